"""The project's settings with the test apps installed, as the test run installs them (see the top-level
conftest.py): for tools that read settings without running the tests, such as mypy's Django plugin, which then knows
the test apps' models."""

from config.settings import *  # noqa: F403

TEST_APPS = ["apps.core.tests.testapp", "apps.core.tests.workerapp", "apps.core.tests.archiveapp"]

INSTALLED_APPS = [*INSTALLED_APPS, *TEST_APPS]  # noqa: F405
