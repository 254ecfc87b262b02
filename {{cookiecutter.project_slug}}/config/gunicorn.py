"""gunicorn's settings for scripts/start-web (`gunicorn --config python:config.gunicorn config.wsgi`).

Every value can be changed from the environment: WEB_CONCURRENCY (workers, default 2 per CPU + 1), PORT (default
8000, on every interface; or GUNICORN_CMD_ARGS="--bind 127.0.0.1:8000"), WEB_TIMEOUT (seconds, default 30),
LOG_LEVEL and LOG_FORMAT (as for Django: one line per record, JSON when LOG_FORMAT=json).

The project's settings are loaded first, in gunicorn's master process: a configuration error (a missing SECRET_KEY
with DEBUG off, LOG_LEVEL=verbose, ...) stops gunicorn with one sentence and exit code 1 before any worker starts,
instead of every worker failing in a loop with a traceback.
"""

import logging
import os

from gunicorn.glogging import Logger

from config.health import PATH as HEALTH_PATH
from config.log import log_format, log_level, logging_config
from config.startup import load_settings_or_exit

load_settings_or_exit()

wsgi_app = "config.wsgi:application"
bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * len(os.sched_getaffinity(0)) + 1)
timeout = int(os.environ.get("WEB_TIMEOUT") or 30)
graceful_timeout = timeout
keepalive = 5
# Heartbeat files in memory: container file systems can stall a disk-backed one and get workers killed.
SHARED_MEMORY = "/dev/shm"  # noqa: S108 - gunicorn's own advice for containers, not a temporary file of ours
worker_tmp_dir = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None
# gunicorn 25.1+ opens a control socket for `gunicornc`, by default under ~/.gunicorn/: outside the project, and the
# container's user has no home. Nothing here uses it; a platform manages the processes by signals.
control_socket_disable = True

accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}i)s'
loglevel = log_level(os.environ.get("LOG_LEVEL")).lower()
logconfig_dict = logging_config(
    log_level(os.environ.get("LOG_LEVEL")),
    log_format(os.environ.get("LOG_FORMAT")),
    extra_loggers={
        "gunicorn.error": {"handlers": [], "propagate": True},
        "gunicorn.access": {"handlers": [], "propagate": True},
    },
)


class ProbeQuietLogger(Logger):
    """gunicorn's logger, except that successful health probes (every few seconds per load balancer) are written
    only when the log level is DEBUG."""

    def access(self, resp, req, environ, request_time):
        quiet = environ.get("PATH_INFO") == HEALTH_PATH and (resp.status_code or 500) < 400
        if quiet and not self.access_log.isEnabledFor(logging.DEBUG):
            return
        super().access(resp, req, environ, request_time)


logger_class = ProbeQuietLogger
