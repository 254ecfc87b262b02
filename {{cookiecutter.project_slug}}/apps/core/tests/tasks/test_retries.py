"""Retries after a failure (apps/core/tasks/retries.py): the backoff schedule, checked against the clock, for @task
functions (by default) and for ingestors (when they opt in), and what the last failure leaves."""

import itertools
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.test import override_settings

from apps.core.ingestors import get_ingestor, ingestor
from apps.core.models import Task
from apps.core.tasks.claiming import ALL_QUEUES
from apps.core.tasks.framework import TaskResultStatus
from apps.core.tasks.retries import JITTER, RetryPolicy
from apps.core.tasks.worker import Worker

from ..workerapp import tasks, tasks_with_options
from ..workerapp.models import Attempt, FunctionRun
from ..workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

Status = TaskResultStatus
BACKOFF = 0.3
RETRYING = {
    "default": {
        "BACKEND": "apps.core.tasks.backend.DatabaseBackend",
        "OPTIONS": {"max_attempts": 3, "retry_backoff": BACKOFF},
    }
}


class ServingWorker:
    """A worker (not burst: it must wait for the retries) serving in a thread of this process until stopped."""

    def __init__(self, ingestors=None, queues=ALL_QUEUES):
        self.worker = Worker(ingestors or {}, queues=queues, poll_interval=0.05)
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        try:
            self.worker.run()
        finally:
            connections.close_all()

    def stop(self):
        if not self.thread.is_alive():
            return
        self.worker.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


@pytest.fixture
def serving():
    started = []

    def start(**options):
        started.append(ServingWorker(**options))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def test_the_nth_retry_waits_the_backoff_doubled_n_minus_1_times_plus_at_most_a_quarter():
    policy = RetryPolicy(max_attempts=5, retry_backoff=2)

    waits = [[policy.delay(attempt) for _ in range(200)] for attempt in (1, 2, 3)]

    for attempt, found in zip((1, 2, 3), waits, strict=True):
        base = 2 * 2 ** (attempt - 1)
        assert base <= min(found) <= max(found) <= base * (1 + JITTER)
        assert len(set(found)) > 1  # jittered: not all the same


def test_there_is_no_next_run_after_the_last_attempt():
    policy = RetryPolicy(max_attempts=3, retry_backoff=1)

    assert policy.next_run(2) is not None
    assert policy.next_run(3) is None


@override_settings(TASKS=RETRYING)
def test_a_failing_task_function_is_retried_on_the_backoff_schedule_until_it_succeeds(serving):
    result = tasks.fails_until.enqueue("flaky", succeeds_on=3)
    serving()

    wait_for(lambda: tasks.fails_until.get_result(result.id).is_finished, what="the third attempt to succeed")

    read = tasks.fails_until.get_result(result.id)
    assert (read.status, read.return_value, read.attempts) == (Status.SUCCESSFUL, "flaky done on attempt 3", 3)
    assert [error.exception_class for error in read.errors] == [ValueError, ValueError]
    assert "ValueError: attempt 1 of flaky failed" in read.errors[0].traceback
    assert "ValueError: attempt 2 of flaky failed" in read.errors[1].traceback
    starts = list(FunctionRun.objects.order_by("attempt").values_list("attempt", "started"))
    assert [attempt for attempt, _ in starts] == [1, 2, 3]
    gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(starts)]
    # Never before the backoff; after it, no later than the jitter and a worker's wake-up allow (generously).
    assert BACKOFF <= gaps[0] < BACKOFF * (1 + JITTER) + 1.0, gaps
    assert 2 * BACKOFF <= gaps[1] < 2 * BACKOFF * (1 + JITTER) + 1.0, gaps
    print(f"retry gaps: {[round(gap, 3) for gap in gaps]} s (backoff {BACKOFF} s, doubling)")


@override_settings(TASKS=RETRYING)
def test_the_last_failure_leaves_the_task_failed_with_every_attempts_error(serving):
    result = tasks.fails_until.enqueue("doomed", succeeds_on=99)
    worker = serving()

    wait_for(lambda: tasks.fails_until.get_result(result.id).is_finished, what="the last attempt to fail")

    read = tasks.fails_until.get_result(result.id)
    assert (read.status, read.attempts, len(read.errors)) == (Status.FAILED, 3, 3)
    with pytest.raises(ValueError, match="Task failed"):
        _ = read.return_value
    queued = Task.objects.get()
    assert (queued.status, queued.attempts) == ("failed", 3)
    assert "ValueError: attempt 3 of doomed failed" in queued.last_error

    worker.stop()  # a worker still serving would claim the requeued task at once
    queued.requeue()  # the manual way back
    assert tasks.fails_until.get_result(result.id).status == Status.READY


def test_a_task_functions_own_options_override_the_backends(serving):
    result = tasks_with_options.fails_twice_at_most.enqueue("stubborn")  # max_attempts=2, retry_backoff=0
    serving()

    wait_for(lambda: tasks_with_options.fails_twice_at_most.get_result(result.id).is_finished, what="the task to fail")

    read = tasks_with_options.fails_twice_at_most.get_result(result.id)
    assert (read.status, read.attempts) == (Status.FAILED, 2)
    assert FunctionRun.objects.count() == 2


def test_bad_retry_options_on_a_task_are_refused():
    from apps.core.tasks.framework import InvalidTask, task

    with pytest.raises(InvalidTask, match="max_attempts must be a whole number of at least 1, not 0"):
        task(max_attempts=0)(tasks.add.func)  # type: ignore[call-overload, unused-ignore]  # (6.x stubs lack it)


def test_an_ingestor_fails_at_once_by_default(registry):
    @ingestor("fragile")
    def fragile(task):
        raise ValueError("no")

    task = Task.objects.create(name="once", task_ingestor="fragile")
    assert Worker({"fragile": get_ingestor("fragile")}, burst=True, poll_interval=0.05).run() == 0

    task.refresh_from_db()
    assert (task.status, task.attempts, task.run_after) == ("failed", 1, None)


def test_an_ingestor_that_opts_in_is_retried_on_the_backoff_schedule(registry, serving):
    runs = []

    @ingestor("retried", max_attempts=3, retry_backoff=BACKOFF)
    def retried(task):
        import time

        runs.append(time.time())
        if len(runs) < 3:
            raise ValueError(f"run {len(runs)} failed")

    task = Task.objects.create(name="retry me", task_ingestor="retried")
    serving(ingestors={"retried": get_ingestor("retried")}, queues=None)

    wait_for(lambda: not Task.objects.filter(pk=task.pk).exists(), what="the third run to complete the task")

    assert len(runs) == 3
    assert BACKOFF <= runs[1] - runs[0] < BACKOFF * (1 + JITTER) + 1.0
    assert 2 * BACKOFF <= runs[2] - runs[1] < 2 * BACKOFF * (1 + JITTER) + 1.0


def test_an_ingestors_last_failure_fails_its_task_with_the_error(registry):
    @ingestor("hopeless", max_attempts=2, retry_backoff=0)
    def hopeless(task):
        Attempt.objects.create(task_id=task.pk, attempt=task.attempts, worker=task.worker, started=0)
        raise ValueError(f"attempt {task.attempts}")

    task = Task.objects.create(name="hopeless", task_ingestor="hopeless")
    assert Worker({"hopeless": get_ingestor("hopeless")}, burst=True, poll_interval=0.05).run() == 0

    task.refresh_from_db()
    assert (task.status, task.attempts) == ("failed", 2)
    assert task.last_error.rstrip().endswith("ValueError: attempt 2")
    assert list(Attempt.objects.values_list("attempt", flat=True)) == [1, 2]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "Ingestor 'bad': max_attempts must be a whole number of at least 1, not 0."),
        ({"retry_backoff": "soon"}, "Ingestor 'bad': retry_backoff must be a number of seconds, 0 or more"),
    ],
)
def test_bad_retry_options_on_an_ingestor_are_a_configuration_error(registry, options, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        ingestor("bad", **options)
