"""The backend of Django's Tasks framework (apps/core/tasks/backend.py): enqueue, defer, priority, queues, async
functions, context, results, signals, on-commit, and bad input, with the functions of workerapp/tasks.py run by the
worker in this process (burst mode). test_task_functions_processes.py runs them in real worker processes."""

import asyncio
import datetime
import re
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.test import override_settings
from django.utils import timezone

from apps.core.ingestors import get_ingestor
from apps.core.models import Task
from apps.core.tasks.backend import DatabaseBackend
from apps.core.tasks.claiming import ALL_QUEUES
from apps.core.tasks.exceptions import WorkerLost
from apps.core.tasks.framework import (
    InvalidTask,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task,
    task_backends,
    task_enqueued,
    task_finished,
    task_started,
)
from apps.core.tasks.models import TaskResultRecord
from apps.core.tasks.worker import Worker

from ..workerapp import tasks, tasks_with_options

pytestmark = pytest.mark.django_db(transaction=True)

Status = TaskResultStatus


def run_burst(queues=ALL_QUEUES, **options):
    """Run a burst worker serving @task functions in this process until nothing is ready; return the worker."""
    worker = Worker({}, queues=queues, burst=True, poll_interval=0.05, **options)
    assert worker.run() == 0
    return worker


def test_the_default_backend_is_the_projects():
    backend = task_backends["default"]

    assert isinstance(backend, DatabaseBackend)
    assert (backend.supports_defer, backend.supports_priority) == (True, True)
    assert (backend.supports_async_task, backend.supports_get_result) == (True, True)


def test_enqueue_stores_the_task_and_its_result_ready_to_run():
    result = tasks.add.enqueue(2, b=3)

    assert (result.status, result.args, result.kwargs) == (Status.READY, [2], {"b": 3})
    assert result.task.func is tasks.add.func
    assert (result.attempts, result.worker_ids, result.errors) == (0, [], [])
    queued = Task.objects.get()
    assert (queued.name, queued.task_ingestor, queued.status) == (
        "add",
        "apps.core.tests.workerapp.tasks.add",
        "pending",
    )
    assert (queued.queue_name, queued.priority, str(queued.result_id)) == ("default", 0, result.id)
    with pytest.raises(ValueError, match="not finished yet"):
        _ = result.return_value


def test_the_worker_runs_it_and_the_result_is_read_back_anywhere():
    result = tasks.add.enqueue(2, 3)
    before = timezone.now()

    worker = run_burst()

    read = tasks.add.get_result(result.id)
    assert (read.status, read.return_value, read.attempts, read.worker_ids) == (
        Status.SUCCESSFUL,
        5,
        1,
        [worker.identity],
    )
    assert read.started_at is not None
    assert read.last_attempted_at is not None
    assert read.finished_at is not None
    assert read.enqueued_at is not None
    assert before <= read.started_at == read.last_attempted_at <= read.finished_at
    assert read.enqueued_at <= before
    assert not Task.objects.exists()  # completed, hence deleted; the result stays
    result.refresh()
    assert (result.status, result.return_value) == (Status.SUCCESSFUL, 5)


def test_an_async_function_runs_in_the_worker():
    result = tasks.async_add.enqueue(4, 5)

    run_burst()

    assert tasks.async_add.get_result(result.id).return_value == 9  # type: ignore[comparison-overlap, unused-ignore]


def test_aenqueue_and_aget_result():
    async def enqueue_and_read():
        try:
            enqueued = await tasks.add.aenqueue(1, 1)
            return enqueued, await tasks.add.aget_result(enqueued.id)
        finally:
            # The queries ran in asgiref's executor thread: its connection is closed, as at the end of a request (on
            # PostgreSQL a connection left open keeps the test database from being dropped).
            await sync_to_async(connections.close_all)()

    enqueued, read = asyncio.run(enqueue_and_read())

    assert read.id == enqueued.id
    assert read.status == Status.READY


def test_takes_context_gets_the_attempt_and_its_result():
    result = tasks.probe.enqueue("context")

    worker = run_burst()

    value = tasks.probe.get_result(result.id).return_value
    assert value == {"attempt": 1, "id": result.id, "status": "RUNNING", "workers": [worker.identity]}


def test_a_deferred_task_waits_for_its_moment_and_burst_leaves_it_queued():
    later = tasks.add.using(run_after=timezone.now() + datetime.timedelta(hours=1)).enqueue(1, 2)
    now = tasks.add.using(run_after=timezone.now() - datetime.timedelta(seconds=1)).enqueue(3, 4)

    run_burst()

    assert tasks.add.get_result(now.id).status == Status.SUCCESSFUL
    assert tasks.add.get_result(later.id).status == Status.READY
    assert Task.objects.get().run_after == later.task.run_after
    Task.objects.update(run_after=timezone.now() - datetime.timedelta(seconds=1))
    run_burst()
    assert tasks.add.get_result(later.id).return_value == 3


def test_higher_priority_is_claimed_first_then_oldest_first():
    low = tasks.add.using(priority=-5).enqueue(0, 0)
    first_default = tasks.add.enqueue(0, 1)
    high = tasks.add.using(priority=50).enqueue(0, 2)
    second_default = tasks.add.enqueue(0, 3)

    claimed = Task.objects.claim(count=4, queues=ALL_QUEUES)

    assert [str(task.result_id) for task in claimed] == [high.id, first_default.id, second_default.id, low.id]


@override_settings(
    TASKS={"default": {"BACKEND": "apps.core.tasks.backend.DatabaseBackend", "QUEUES": ["default", "emails"]}}
)
def test_a_worker_serves_only_the_queues_it_is_given():
    email = tasks.add.using(queue_name="emails").enqueue(1, 1)
    default = tasks.add.enqueue(2, 2)

    run_burst(queues=("default",))

    assert tasks.add.get_result(default.id).status == Status.SUCCESSFUL
    assert tasks.add.get_result(email.id).status == Status.READY
    run_burst(queues=("emails",))
    assert tasks.add.get_result(email.id).return_value == 2


def test_an_ingestor_only_worker_leaves_task_functions_alone_and_the_reverse():
    result = tasks.add.enqueue(1, 1)
    ingested = Task.objects.create(name="x", task_ingestor="record")

    assert Worker({"record": get_ingestor("record")}, burst=True, poll_interval=0.05).run() == 0

    assert tasks.add.get_result(result.id).status == Status.READY
    assert not Task.objects.filter(pk=ingested.pk).exists()


def test_the_signals_are_sent_with_the_result():
    seen = []

    def receiver(signal, sender, task_result, **kwargs):
        seen.append((signal, sender, task_result.id, task_result.status))

    for signal in (task_enqueued, task_started, task_finished):
        signal.connect(receiver, weak=False)
    try:
        result = tasks.add.enqueue(1, 2)
        run_burst()
    finally:
        for signal in (task_enqueued, task_started, task_finished):
            signal.disconnect(receiver)

    assert seen == [
        (task_enqueued, DatabaseBackend, result.id, Status.READY),
        (task_started, DatabaseBackend, result.id, Status.RUNNING),
        (task_finished, DatabaseBackend, result.id, Status.SUCCESSFUL),
    ]


def test_enqueued_in_a_transaction_it_exists_and_is_announced_only_on_commit():
    announced = []

    def receiver(sender, task_result, **kwargs):
        announced.append(task_result.id)

    task_enqueued.connect(receiver, weak=False)
    try:
        with transaction.atomic():
            result = tasks.add.enqueue(1, 2)
            assert announced == []
            assert _seen_from_another_connection() == 0
        assert announced == [result.id]
        assert _seen_from_another_connection() == 1

        rolled_back: list[Any] = []
        with pytest.raises(RuntimeError):
            _enqueue_then_roll_back(rolled_back)
    finally:
        task_enqueued.disconnect(receiver)

    assert announced == [result.id]
    with pytest.raises(TaskResultDoesNotExist):
        tasks.add.get_result(rolled_back[0].id)


def _enqueue_then_roll_back(enqueued):
    with transaction.atomic():
        enqueued.append(tasks.add.enqueue(3, 4))
        raise RuntimeError("rolled back")


def _seen_from_another_connection():
    """Task rows visible to a connection of another thread (committed ones)."""
    counted = []

    def count():
        try:
            counted.append(Task.objects.count())
        finally:
            connections.close_all()

    thread = threading.Thread(target=count)
    thread.start()
    thread.join()
    return counted[0]


@pytest.mark.parametrize("result_id", ["0f6c1d1e-8d5b-4e41-9a2e-3c2b1f0e9d7a", "not-a-uuid", ""])
def test_get_result_of_an_id_never_enqueued_raises_does_not_exist(result_id):
    with pytest.raises(TaskResultDoesNotExist):
        task_backends["default"].get_result(result_id)


def test_arguments_that_are_not_json_are_refused_at_enqueue_and_nothing_is_written():
    with pytest.raises(TypeError, match=r"add cannot be enqueued: argument 1 \(datetime\) is not JSON-serialisable"):
        tasks.add.enqueue(1, timezone.now())
    with pytest.raises(TypeError, match=r"keyword argument 'b' \(set\) is not JSON-serialisable"):
        tasks.add.enqueue(1, b={2})

    assert not Task.objects.exists()
    assert not TaskResultRecord.objects.exists()


@pytest.mark.parametrize("priority", [101, -101, 1.5])
def test_a_priority_out_of_range_is_refused(priority):
    with pytest.raises(InvalidTask, match="priority must be a whole number between -100 and 100"):
        tasks.add.using(priority=priority)


def test_a_queue_the_backend_does_not_accept_is_refused():
    with pytest.raises(InvalidTask, match="Queue 'reports' is not valid for backend"):
        tasks.add.using(queue_name="reports")


def _unreachable():
    """Decorated below under another name: its path leads to this plain function, not to a task."""


unreachable = task(_unreachable)


def test_a_task_whose_path_does_not_lead_back_to_it_is_refused_at_enqueue():
    with pytest.raises(
        InvalidTask, match=r"test_backend\._unreachable cannot be enqueued: .* is not a @task function"
    ):
        unreachable.enqueue()

    assert not Task.objects.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be a whole number of at least 1, not 0"),
        ({"retry_backoff": -1}, "retry_backoff must be a number of seconds, 0 or more, not -1"),
        ({"result_retention_days": "week"}, "result_retention_days must be a number of days"),
        ({"retries": 3}, "unknown option(s) 'retries'"),
    ],
)
def test_bad_options_are_a_configuration_error(options, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        DatabaseBackend("default", {"OPTIONS": options})


def test_a_function_the_worker_cannot_import_fails_with_the_reason_and_the_worker_goes_on():
    lost = TaskResultRecord.objects.create(task_path="apps.core.tests.workerapp.tasks.renamed")
    Task.objects.create(name="renamed", task_ingestor=lost.task_path, queue_name="default", result=lost)
    fine = tasks.add.enqueue(1, 1)

    run_burst()

    failed = Task.objects.get()
    assert failed.status == "failed"
    assert (
        "TaskUnrunnable: Cannot import the task function 'apps.core.tests.workerapp.tasks.renamed'"
        in failed.last_error
    )
    lost.refresh_from_db()
    assert (lost.status, lost.errors[0]["exception_class_path"]) == (
        Status.FAILED,
        "apps.core.tasks.exceptions.TaskUnrunnable",
    )
    assert tasks.add.get_result(fine.id).return_value == 2


def test_a_return_value_that_is_not_json_fails_the_task_saying_so():
    result = tasks_with_options.returns_a_set.enqueue()

    run_burst()

    read = tasks_with_options.returns_a_set.get_result(result.id)
    assert read.status == Status.FAILED
    assert read.errors[0].exception_class is TypeError
    assert "returns_a_set returned a set, which cannot be kept as its result" in read.errors[0].traceback


def test_a_task_whose_last_worker_died_reads_as_failed_with_the_reason():
    result = tasks.add.enqueue(1, 1)
    Task.objects.update(
        status="processing",
        attempts=3,
        worker="dead:1",
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=1),
    )

    run_burst(max_attempts=3)

    read = tasks.add.get_result(result.id)
    assert read.status == Status.FAILED
    assert read.errors[-1].exception_class is WorkerLost
    assert read.errors[-1].traceback.startswith("Gave up after attempt 3 of 3: its lease expired while worker dead:1")


def test_a_database_without_update_returning_counts_attempts_by_a_read_and_a_write(monkeypatch):
    from apps.core.tasks import results

    monkeypatch.setattr(results, "_APPEND_SQL", {})  # as on a database start_attempt() has no statement for
    result = tasks.probe.enqueue("fallback")

    worker = run_burst()

    read = tasks.probe.get_result(result.id)
    assert (read.status, read.worker_ids) == (Status.SUCCESSFUL, [worker.identity])
    assert read.return_value["status"] == "RUNNING"
