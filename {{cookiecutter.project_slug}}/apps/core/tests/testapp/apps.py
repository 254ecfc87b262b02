from django.apps import AppConfig


class TestAppConfig(AppConfig):
    """Concrete models built on apps.core's abstract ones, installed only while the tests run (see conftest.py)."""

    name = "apps.core.tests.testapp"
    label = "testapp"
    default_auto_field = "django.db.models.BigAutoField"
