"""The baked project's worker (run_tasks) runs these in table 6, against the same jobs in django-tasks-db and
procrastinate (benchapp/jobs.py)."""

import time

from apps.core.ingestors import ingestor

from .models import JobStart


@ingestor("bench_noop")
def noop(task):
    """Nothing: the cost measured is the queue's own."""


@ingestor("bench_stamp")
def stamp(task):
    JobStart.objects.create(system="run_tasks", key=task.name, at=time.time())


@ingestor("bench_sleep")
def sleep(task):
    """Waits 10 ms, as a job waiting on an HTTP call or a file would: threads versus processes."""
    time.sleep(0.01)
