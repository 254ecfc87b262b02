"""@task functions for the tests of the Django Tasks framework backend (apps/core/tasks/backend.py). Each records its
runs in FunctionRun, committed, where the test (or the test's worker processes) can see them. They import `task`
from the task system's framework module, which finds django.tasks (Django 6) or the backport (5.2), as a project's own
code imports it from one of those. Functions with this backend's own options are in tasks_with_options.py: this
module is the project's code that moves unchanged to another engine (tests/test_distributed_tasks.py)."""

import asyncio
import os
import signal
import time

from apps.core.tasks.framework import task

from .models import FunctionRun


def record_run(key, context=None):
    result = context.task_result if context is not None else None
    FunctionRun.objects.create(
        key=key,
        attempt=context.attempt if context is not None else 0,
        worker=result.worker_ids[-1] if result is not None else "",
        started=time.time(),
    )


@task
def add(a, b):
    return a + b


@task(takes_context=True)
def probe(context, key):
    """Records its run and returns what its context said."""
    record_run(key, context)
    result = context.task_result
    return {"attempt": context.attempt, "id": result.id, "status": str(result.status), "workers": result.worker_ids}


@task
async def async_add(a, b):
    await asyncio.sleep(0)
    return a + b


@task(takes_context=True)
def fails_until(context, key, succeeds_on):
    """Fails until its attempt number `succeeds_on` (which succeeds), recording every run."""
    record_run(key, context)
    if context.attempt < succeeds_on:
        raise ValueError(f"attempt {context.attempt} of {key} failed")
    return f"{key} done on attempt {context.attempt}"


@task(takes_context=True)
def sleepy(context, key, seconds):
    """Sleeps `seconds` on its first attempt only."""
    record_run(key, context)
    if context.attempt == 1:
        time.sleep(seconds)
    return key


@task(takes_context=True)
def kills_its_worker(context, key):
    """SIGKILLs its own worker process on the first attempt, in the middle of the run."""
    record_run(key, context)
    if context.attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return key
