"""Settings read from the environment: lists without stray spaces, the log level in any case and refused in one
sentence when wrong, JSON logs with the request id, Sentry only when SENTRY_DSN is set."""

import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {"DEBUG": "False", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "localhost", "ADMIN_URL": "staff/"}


def shell(code, **env):
    """Run `code` with the settings loaded, in a fresh process with `env` on top of a clean production environment
    (`manage.py shell` would run the code even when the settings fail to load)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    # An empty collected-static folder, as scripts/release leaves one (WhiteNoise warns when there is none).
    environment.update(PRODUCTION, STATIC_ROOT=tempfile.mkdtemp(), **env)
    setup = "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup()\n"
    return subprocess.run(
        [sys.executable, "-c", setup + code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_list_settings_strip_spaces_around_commas():
    done = shell(
        "from django.conf import settings; print(settings.ALLOWED_HOSTS, settings.CSRF_TRUSTED_ORIGINS)",
        ALLOWED_HOSTS="a.com, b.com ,c.com",
        CSRF_TRUSTED_ORIGINS=" https://a.com , https://b.com",
    )
    assert done.stdout.strip() == "['a.com', 'b.com', 'c.com'] ['https://a.com', 'https://b.com']", done.stderr


@pytest.mark.parametrize("value", ["debug", "Warning", " ERROR "])
def test_the_log_level_is_read_in_any_case(value):
    done = shell("import logging; print(logging.getLevelName(logging.getLogger().level))", LOG_LEVEL=value)
    assert done.stdout.strip() == value.strip().upper(), done.stderr


def test_a_bad_log_level_is_refused_in_one_sentence_naming_it():
    done = shell("pass", LOG_LEVEL="loud")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: "
        "LOG_LEVEL 'loud' is not a log level; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
    )


def test_json_logs_are_one_object_per_line_with_the_proxys_request_id():
    code = (
        "import logging; from django.test import Client; "
        "logging.getLogger('probe').error('first line\\nsecond line'); "
        "Client(HTTP_X_REQUEST_ID='req-42').get('/no-such-page', HTTP_HOST='localhost')"
    )
    done = shell(code, LOG_FORMAT="json", SECURE_SSL_REDIRECT="False")
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["message"] for line in lines] == ["first line\nsecond line", "Not Found: /no-such-page"], done.stderr
    assert [line["level"] for line in lines] == ["ERROR", "WARNING"]
    assert [line["request_id"] for line in lines] == ["-", "req-42"]


def test_text_logs_fold_a_traceback_into_one_line():
    code = "import logging\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    logging.getLogger('probe').exception('failed')"
    done = shell(code)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "ERROR probe [-] failed\\nTraceback" in lines[0]
    assert "ZeroDivisionError: division by zero" in lines[0]


class _Collector(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_server():
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Collector.received
    server.shutdown()


def test_errors_go_to_sentry_when_a_dsn_is_set(sentry_server):
    port, received = sentry_server
    done = shell(
        "import logging; logging.getLogger('probe').error('boom for sentry')",
        SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/1",
    )
    assert done.returncode == 0, done.stderr
    assert any(b"boom for sentry" in gzip.decompress(body) for body in received), received


def test_nothing_is_sent_or_loaded_without_a_dsn(sentry_server):
    _port, received = sentry_server
    done = shell(
        "import logging, sys; logging.getLogger('probe').error('boom'); print('sentry_sdk' in sys.modules)",
        SENTRY_DSN="",
    )
    assert done.stdout.strip() == "False", done.stderr
    assert received == []


@pytest.mark.parametrize("debug", ["True", "False"])
def test_a_django_log_record_is_printed_once(debug):
    """Django's own configuration gives its "django" logger a console handler when DEBUG is on: without care every
    record of Django's would print twice, once there and once at the root."""
    done = shell("import logging; logging.getLogger('django.request').warning('printed once')", DEBUG=debug)
    assert done.stderr.count("printed once") == 1, done.stderr
