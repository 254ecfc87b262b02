"""Settings for Django's runtests.py in the compatibility check: Django's own test_sqlite.py, plus PostgreSQL.

Copied beside runtests.py and chosen with `--settings compat_settings`. The harness sets the environment:
COMPAT_DATABASE ("sqlite" or "postgres"), COMPAT_POSTGRES_URL (the server) and COMPAT_TEST_DATABASE (a database
name of this run's own, so concurrent runs never share one). AUTH_USER_MODEL stays auth.User: the base models point
at the setting, whatever it names.
"""

import os
from urllib.parse import unquote, urlsplit


def _postgres(url, test_name):
    parts = urlsplit(url)
    settings = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        "USER": unquote(parts.username or "postgres"),
        "PASSWORD": unquote(parts.password or ""),
        "NAME": parts.path.lstrip("/") or "postgres",
    }
    return {
        "default": {**settings, "TEST": {"NAME": test_name}},
        "other": {**settings, "TEST": {"NAME": f"{test_name}_other"}},
    }


if os.environ["COMPAT_DATABASE"] == "postgres":
    DATABASES = _postgres(os.environ["COMPAT_POSTGRES_URL"], os.environ["COMPAT_TEST_DATABASE"])
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3"},
        "other": {"ENGINE": "django.db.backends.sqlite3"},
    }

SECRET_KEY = "django_tests_secret_key"  # noqa: S105 (Django's own test value)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = False

TEST_RUNNER = "compat_runner.RecordingRunner"
