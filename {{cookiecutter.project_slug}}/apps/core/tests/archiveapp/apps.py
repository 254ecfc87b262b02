from django.apps import AppConfig


class ArchiveAppConfig(AppConfig):
    """Models for the tests of the audit archive: every kind of key, a multi-table child, CASCADE and SET_NULL
    chains, a model with a small history_row_limit (installed only while the tests run)."""

    name = "apps.core.tests.archiveapp"
    label = "archiveapp"
    default_auto_field = "django.db.models.BigAutoField"
