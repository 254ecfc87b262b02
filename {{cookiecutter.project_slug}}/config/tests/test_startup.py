"""A configuration error stops every process with one sentence on stderr and exit code 1, never a traceback:
manage.py (the worker and the release step go through it), gunicorn (its settings load the project's first), and
the WSGI and ASGI applications."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.startup import configuration_error_line

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {"DEBUG": "False", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "localhost", "ADMIN_URL": "staff/"}
ENTRY_POINTS = {
    "manage.py check": ["manage.py", "check"],
    "the worker": ["manage.py", "run_tasks", "--burst"],
    "gunicorn": ["-m", "gunicorn", "--config", "python:config.gunicorn", "--check-config"],
    "WSGI": ["-c", "import config.wsgi"],
    "ASGI": ["-c", "import config.asgi"],
}
ERRORS = {
    "no SECRET_KEY": (
        {"SECRET_KEY": ""},
        "Set the SECRET_KEY environment variable: it is required when DEBUG is off.",
    ),
    "a bad ADMIN_URL": (
        {"ADMIN_URL": "https://example.com/admin/"},
        "ADMIN_URL 'https://example.com/admin/' is not a path for the admin; use letters, digits, -, _ and /, "
        "e.g. staff-a8f3/.",
    ),
    "the admin at the root": (
        {"ADMIN_URL": "/"},
        "ADMIN_URL '/' is not a path for the admin; use letters, digits, -, _ and /, e.g. staff-a8f3/.",
    ),
    "LOG_LEVEL=verbose": (
        {"LOG_LEVEL": "verbose"},
        "LOG_LEVEL 'verbose' is not a log level; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL.",
    ),
}


def start(arguments, **env):
    """Run a process of the project as a platform would: DEBUG off, the production variables set, then `env`."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env={**environment, **PRODUCTION, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("error", ERRORS.values(), ids=ERRORS.keys())
def test_manage_py_prints_a_configuration_error_as_one_sentence(error):
    env, sentence = error
    done = start(ENTRY_POINTS["manage.py check"], **env)
    assert (done.returncode, done.stderr) == (1, sentence + "\n")


@pytest.mark.parametrize("arguments", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_every_process_stops_with_the_sentence_and_exit_code_1(arguments):
    env, sentence = ERRORS["no SECRET_KEY"]
    done = start(arguments, **env)
    assert (done.returncode, done.stderr) == (1, sentence + "\n")
    assert done.stdout == ""


def test_the_same_processes_start_when_the_settings_are_right():
    done = start(ENTRY_POINTS["manage.py check"])
    assert done.returncode == 0, done.stderr


def test_manage_py_honours_settings_on_its_command_line_as_djangos_does():
    code = "from django.conf import settings; print(settings.SETTINGS_MODULE)"
    shows = ["manage.py", "shell", "-v", "0", "-c", code]
    done = start([*shows, "--settings=apps.core.tests.settings"])
    assert (done.returncode, done.stdout, done.stderr) == (0, "apps.core.tests.settings\n", "")
    done = start(shows, DJANGO_SETTINGS_MODULE="apps.core.tests.settings")
    assert (done.returncode, done.stdout) == (0, "apps.core.tests.settings\n")


def test_a_message_over_several_lines_is_printed_on_one():
    assert configuration_error_line(ValueError("Set X:\n  it is required.")) == "Set X: it is required."
