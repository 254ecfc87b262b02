"""Ingestors for the worker's tests. A task's name carries the test's instructions where one is needed."""

import time

from apps.core.current_user import get_current_user
from apps.core.ingestors import ingestor

from .models import Attempt, TaskRun, UserTask


def record_attempt(task):
    user = get_current_user()
    Attempt.objects.create(
        task_id=task.pk,
        attempt=task.attempts,
        worker=task.worker,
        started=time.time(),
        acting_user_id=user.pk if user is not None else None,
    )


@ingestor("record")
def record(task):
    """Writes a TaskRun: a task run twice would break its unique constraint (and fail)."""
    TaskRun.objects.create(task_id=task.pk, attempt=task.attempts, worker=task.worker)


@ingestor("sleepy")
def sleepy(task):
    """Records the attempt, then, on the first attempt only, sleeps for the number of seconds the task's name says."""
    record_attempt(task)
    if task.attempts == 1:
        time.sleep(float(task.name))


@ingestor("flaky")
def flaky(task):
    """Fails the first time it runs a task, succeeds afterwards (after a requeue, say)."""
    first = not Attempt.objects.filter(task_id=task.pk).exists()
    record_attempt(task)
    if first:
        raise ValueError(f"cannot ingest {task.name!r} yet")


@ingestor("stamp")
def stamp(task):
    """Records when it started (wake-up latency) and who it acted as."""
    record_attempt(task)


@ingestor("as_user", model=UserTask)
def as_user(task):
    """Receives the UserTask and runs acting as its acting_user."""
    assert isinstance(task, UserTask)
    record_attempt(task)
