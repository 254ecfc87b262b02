from django.apps import AppConfig


class WorkerAppConfig(AppConfig):
    """Ingestors and the rows they write, for the worker's tests (installed only while the tests run, and in the
    worker processes those tests start: see worker_settings.py)."""

    name = "apps.core.tests.workerapp"
    label = "workerapp"
    default_auto_field = "django.db.models.BigAutoField"
