"""Table 6's jobs for the other queues, doing what benchapp/ingestors.py does for the baked project's worker:
django-tasks-db's (Django's task framework, the django-tasks backport before Django 6) and procrastinate's."""

import time

from .models import JobStart

try:
    from django.tasks import task
except ImportError:  # Django < 6.0: the django-tasks backport, if installed
    try:
        from django_tasks import task
    except ImportError:
        task = None


def record_start(system, key):
    JobStart.objects.create(system=system, key=key, at=time.time())


if task is not None:

    @task()
    def noop():
        """Nothing: the cost measured is the queue's own."""

    @task()
    def stamp(key):
        record_start("django-tasks-db", key)


def procrastinate_app(conninfo):
    """A procrastinate App on `conninfo` with the same two jobs (each process builds its own)."""
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

    @app.task(name="bench.noop", queue="bench")
    def procrastinate_noop():
        """Nothing: the cost measured is the queue's own."""

    @app.task(name="bench.stamp", queue="bench")
    def procrastinate_stamp(key):
        record_start("procrastinate", key)

    return app
