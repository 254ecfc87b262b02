"""Send every query to the database being benchmarked, including those made inside third-party signal handlers
(django-auditlog's LogEntry, django-simple-history's historical rows), which do not pass `using` along."""

import contextlib

_current = {"alias": "default"}


def current():
    return _current["alias"]


@contextlib.contextmanager
def use(alias):
    previous = _current["alias"]
    _current["alias"] = alias
    try:
        yield alias
    finally:
        _current["alias"] = previous


class CurrentDatabaseRouter:
    def db_for_read(self, model, **hints):
        return _current["alias"]

    def db_for_write(self, model, **hints):
        return _current["alias"]

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return True
