"""Settings for Django's runtests.py in the compatibility check: the sdist's own test_sqlite.py (whatever that
Django version puts there), with PostgreSQL as the other choice and the recording test runner.

Copied beside runtests.py and chosen with `--settings compat_settings`. The harness sets the environment:
COMPAT_DATABASE ("sqlite" or "postgres"), COMPAT_POSTGRES_URL (the server) and COMPAT_TEST_DATABASE (a database
name of this run's own, so concurrent runs never share one). AUTH_USER_MODEL stays auth.User: the base models point
at the setting, whatever it names.
"""

import os
from urllib.parse import unquote, urlsplit

from test_sqlite import *  # noqa: F403 (Django's own test settings, taken whole)


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

TEST_RUNNER = "compat_runner.RecordingRunner"
