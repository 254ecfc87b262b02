"""Settings of the worker processes that the tests start: the project's own, plus the test apps (whose ingestors
they run), on the test database named by the starting test in TEST_WORKER_DATABASE (the JSON of its settings)."""

import json
import os

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

# TEST_WORKER_EXTRA_APPS: more test apps for one test's workers (periodicapp: schedules that every worker would run).
INSTALLED_APPS = [
    *INSTALLED_APPS,
    "apps.core.tests.testapp",
    "apps.core.tests.workerapp",
    *filter(None, os.environ.get("TEST_WORKER_EXTRA_APPS", "").split(",")),
]
DATABASES = {"default": json.loads(os.environ["TEST_WORKER_DATABASE"])}
# testapp.SecretChild provokes this warning on purpose (test_soft_delete.py); the workers' output stays about the workers.
SILENCED_SYSTEM_CHECKS = ["core.W001"]
