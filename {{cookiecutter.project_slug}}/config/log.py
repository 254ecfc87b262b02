"""Logging for every process of the project: one line per record, as text or as JSON (LOG_FORMAT=json).

settings.py and gunicorn (config/gunicorn.py) build their configuration here, so the web server's own records and
Django's share one format. Each record carries the request id from X-Request-ID when a proxy sends one.
"""

import logging

from pythonjsonlogger.json import JsonFormatter

from config.request_id import current_request_id

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


class InvalidLogSetting(ValueError):
    pass


def log_level(value):
    """LOG_LEVEL in any case (`debug`, `Info`), refused in one sentence when it is not a level."""
    level = (value or "INFO").strip().upper()
    if level not in LEVELS:
        raise InvalidLogSetting(f"LOG_LEVEL {value!r} is not a log level; use one of {', '.join(LEVELS)}.")
    return level


def log_format(value):
    chosen = (value or "text").strip().lower()
    if chosen not in FORMATS:
        raise InvalidLogSetting(f"LOG_FORMAT {value!r} is not a log format; use text or json.")
    return chosen


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record: the current request's X-Request-ID, or "-" outside a request."""

    def filter(self, record):
        record.request_id = current_request_id.get() or "-"
        return True


class OneLineFormatter(logging.Formatter):
    """The text format with any traceback folded into the same line (newlines escaped), so that a log collector
    that splits on lines keeps each record whole."""

    def format(self, record):
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")


class OneLineJsonFormatter(JsonFormatter):
    """python-json-logger's formatter: one JSON object per line, the traceback (if any) in `exc_info`."""


def logging_config(level, fmt, extra_loggers=None):
    """A dictConfig dictionary: everything goes to one stderr handler through the root logger."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "text": {"()": OneLineFormatter, "format": TEXT_FORMAT},
            "json": {"()": OneLineJsonFormatter, "fmt": JSON_FIELDS, "rename_fields": {"levelname": "level"}},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["request_id"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's default configuration gives the "django" logger a console handler of its own when DEBUG is
            # on; records would then print twice, once there and once at the root. They go to the root only.
            "django": {"handlers": [], "level": level, "propagate": True},
            **(extra_loggers or {}),
        },
    }
