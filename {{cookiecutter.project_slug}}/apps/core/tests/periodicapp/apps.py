from django.apps import AppConfig


class PeriodicAppConfig(AppConfig):
    """A schedule due every second, for the test that races worker processes on its slots (installed only in those
    workers, through TEST_WORKER_EXTRA_APPS: see worker_settings.py)."""

    name = "apps.core.tests.periodicapp"
    label = "periodicapp"
