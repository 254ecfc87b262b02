"""@task functions that set this backend's own retry options (apps.core.tasks.backend.RetryingTask): another
engine's @task would refuse them, so they are kept apart from tasks.py, whose functions move unchanged."""

from apps.core.tasks.framework import task

from .tasks import record_run


@task(takes_context=True, max_attempts=2, retry_backoff=0)  # type: ignore[call-overload, unused-ignore]  # (6.x stubs)
def fails_twice_at_most(context, key):
    """Always fails; its own options allow two attempts, one right after the other."""
    record_run(key, context)
    raise RuntimeError(f"{key} cannot succeed")


@task(max_attempts=1)  # type: ignore[call-overload, unused-ignore]  # this backend's option (6.x stubs lack it)
def returns_a_set():
    return {1, 2}
