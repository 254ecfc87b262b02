"""Real worker processes for the tests: `manage.py run_tasks` started on the test database, signalled and awaited.

The processes use apps/core/tests/worker_settings.py: the project's settings plus the test apps, whose ingestors
(workerapp/ingestors.py) write what they did to the database, committed, where the test reads it.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

DATABASE_KEYS = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")


def wait_for(condition, timeout=20.0, interval=0.01, what="the condition"):
    """Poll condition() until it returns something truthy (which is returned); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class WorkerProcess:
    """One `python manage.py run_tasks ...` process on the test database; its output goes to a temporary file."""

    def __init__(self, *arguments, command=None, env=None):
        database = {key: connection.settings_dict[key] for key in DATABASE_KEYS if key in connection.settings_dict}
        database["NAME"] = str(database["NAME"])
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "apps.core.tests.worker_settings",
            "TEST_WORKER_DATABASE": json.dumps(database),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            # scripts/start-worker runs the `python` found first on PATH: this virtualenv's.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            **(env or {}),
        }
        self.arguments = arguments
        self._output = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop())
        self.process = subprocess.Popen(
            [*(command or [sys.executable, "manage.py", "run_tasks"]), *arguments],
            cwd=Path(settings.BASE_DIR),
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self):
        return self.process.pid

    @property
    def worker_id(self):
        """What the worker records as `Task.worker`."""
        return f"{socket.gethostname()}:{self.pid}"

    def ready(self):
        """Whether the worker has said it is serving: from then on SIGTERM stops it gracefully (exit code 0)."""
        return " serving " in self.output()

    def send(self, number):
        self.process.send_signal(number)

    def wait(self, timeout=30.0):
        """The exit code; fails (showing the output) if the process has not exited within `timeout` seconds."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"run_tasks {' '.join(self.arguments)} still running:\n{self.output()}") from None

    def output(self):
        self._output.seek(0)
        return self._output.read()

    def stop(self):
        """Kill the process if it is still running (test teardown)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self._output.close()
