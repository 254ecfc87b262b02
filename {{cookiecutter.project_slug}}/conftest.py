"""Test set-up shared by the whole project.

apps/core/tests/testapp holds concrete models built on the abstract base models, with their own migrations. It is
installed here, for the test run only, so that neither settings.py nor `makemigrations` of the real project ever
sees it. The test database is created later, when the first test needs it, so it gets the test app's tables.

The app is installed when this file is imported, not in a pytest_configure hook: pytest-django has set Django up by
then, and pytest imports this file before the conftest files below it, which may import the test app's models; a
hook would run only after all of those imports. override_settings installs the app into the ready app registry, as
Django's own test suite does.
"""

import os

import pytest
from django.conf import settings
from django.test.utils import override_settings

from apps.core.tests.settings import TEST_APPS

# A second database, for the tests of database routing (`pytest.mark.django_db(databases=["default", "other"])`),
# on the same engine as the default one. Added before any connection is opened, so Django sees it from the start;
# pytest-django creates its test database when a test of the run asks for it, so in every xdist worker (each one
# collects every test). Its tables are made from the models (MIGRATE False), in a sixth of the time that applying
# every migration a second time takes: the migrations run on the default database.
_default = settings.DATABASES["default"]
settings.DATABASES["other"] = {
    **_default,
    "NAME": f"{_default['NAME']}_other",
    "TEST": {
        **_default.get("TEST", {}),
        "NAME": f"{_default.get('TEST', {}).get('NAME') or 'test_' + str(_default['NAME'])}_other",
        "MIGRATE": False,
    },
}

_test_apps = override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, *TEST_APPS])
_test_apps.enable()

# The project's password hashers, which _fast_password_hashing below replaces while each test runs.
PROJECT_PASSWORD_HASHERS = list(settings.PASSWORD_HASHERS)


def pytest_unconfigure(config):
    _test_apps.disable()


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (make test): one worker per CPU, and one more. About half of the suite's time goes to tests that
    wait on processes they start (workers, gunicorn, manage.py), and the extra worker runs other tests meanwhile: on
    2 CPUs the suite took 21-22 s with 3 workers, 23-29 s with 2 and 23 s with 4."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cpus + 1


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Passwords hashed with MD5, as Django advises for tests: the project's hasher (PBKDF2, Django's default) takes
    half a second per password by design, which every test that creates a user with a password (admin_user,
    createsuperuser, a form) would pay. A test of hashing as production does asks for project_password_hashers."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def project_password_hashers(settings):
    """The project's own PASSWORD_HASHERS (config/settings.py, else Django's default) for this test."""
    settings.PASSWORD_HASHERS = PROJECT_PASSWORD_HASHERS


@pytest.fixture(autouse=True)
def _plain_http(settings):
    """The test client speaks plain HTTP. With DEBUG off, SECURE_SSL_REDIRECT defaults to on and every request would
    be answered with a redirect to HTTPS, so the tests would depend on how the environment sets DEBUG."""
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def _unhashed_static_files(settings):
    """Production serves static files under hashed names from the manifest collectstatic writes (WhiteNoise). Tests
    render pages without running collectstatic first, so they use plain names, and WhiteNoise has no collected
    folder to look at (it would warn that STATIC_ROOT does not exist)."""
    settings.STATIC_ROOT = None
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
