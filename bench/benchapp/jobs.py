"""Table 6's jobs for the other queues, doing what benchapp/ingestors.py does for the baked project's worker:
Django's task framework's (the django-tasks backport before Django 6), run by django-tasks-db's db_worker and, the
same functions enqueued to the project's backend (`.using(backend="project")`), by run_tasks; and procrastinate's."""

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
        record_start("django.tasks", key)

    @task(takes_context=True)
    def fail_once(context):
        """Raises on its first attempt, succeeds on its retry: the cost of one retry, against noop."""
        if context.attempt == 1:
            raise RuntimeError("first attempt")


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
