"""Task: its transitions, the refusals (with what they say and what they leave untouched), and claiming."""

import datetime

import pytest
from django.db import DatabaseError, connection
from django.db.models.deletion import Collector
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.models import InvalidTransition, Task
from apps.core.tasks import exceptions
from apps.core.tasks.exceptions import LeaseLost

from ..factories import TASKS_START, MyTaskFactory, TaskFactory
from ..testapp.models import MyTaskModel

pytestmark = pytest.mark.django_db

Status = Task.Status

TRANSITIONS = {
    "start_processing": (Status.PENDING, Status.PROCESSING),
    "complete_processing": (Status.PROCESSING, Status.PROCESSED),
    "fail_processing": (Status.PROCESSING, Status.FAILED),
}
INVALID = [
    (method, status) for method, (required, _target) in TRANSITIONS.items() for status in Status if status != required
]


def stored_status(task):
    return Task.objects.filter(pk=task.pk).values_list("status", flat=True).first()


def test_statuses_are_stored_as_documented():
    assert [(status.name, status.value) for status in Status] == [
        ("PENDING", "pending"),
        ("PROCESSING", "processing"),
        ("PROCESSED", "processed"),
        ("FAILED", "failed"),
    ]
    assert TaskFactory.create().status == "pending"


def test_invalid_transition_is_importable_from_the_models():
    assert InvalidTransition is exceptions.InvalidTransition


def test_start_processing_moves_pending_to_processing():
    task = TaskFactory.create()
    task.start_processing()

    assert task.status == stored_status(task) == "processing"


def test_fail_processing_moves_processing_to_failed():
    task = TaskFactory.create(status=Status.PROCESSING)
    task.fail_processing()

    assert task.status == stored_status(task) == "failed"


def test_complete_processing_deletes_the_record():
    task = TaskFactory.create(status=Status.PROCESSING)
    pk = task.pk
    task.complete_processing()

    assert task.status == "processed"
    assert not Task.objects.filter(pk=pk).exists()


def test_complete_processing_keeps_the_task_when_the_delete_fails(monkeypatch):
    task = TaskFactory.create(status=Status.PROCESSING)

    def failing_delete(*args, **kwargs):
        raise DatabaseError("the delete failed")

    monkeypatch.setattr(task, "delete", failing_delete)
    with pytest.raises(DatabaseError, match="the delete failed"):
        task.complete_processing()

    assert stored_status(task) == "processing"  # the status change was rolled back with the failed delete


@pytest.mark.parametrize(("method", "status"), INVALID)
def test_a_transition_from_the_wrong_status_is_refused_and_changes_nothing(method, status):
    task = TaskFactory.create(name="nightly import", status=status)
    required, target = TRANSITIONS[method]

    with pytest.raises(InvalidTransition) as refused:
        getattr(task, method)()

    message = str(refused.value)
    assert f"task {task.pk} " in message
    assert "'nightly import'" in message
    assert f"its status is '{status.value}'" in message
    assert f"'{required.value}' is required" in message
    assert (refused.value.task, refused.value.current, refused.value.required, refused.value.target) == (
        task,
        status,
        required,
        target,
    )
    assert task.status == stored_status(task) == status
    assert Task.objects.count() == 1


def test_a_stale_instance_cannot_move_a_task_another_worker_moved():
    task = TaskFactory.create()
    stale = Task.objects.get(pk=task.pk)
    task.start_processing()

    with pytest.raises(InvalidTransition, match="its status is 'processing', but 'pending' is required"):
        stale.start_processing()
    assert stale.status == "pending"  # the stale copy is not silently updated either
    assert stored_status(task) == "processing"


def test_a_stale_instance_of_a_completed_task_is_told_it_no_longer_exists():
    task = TaskFactory.create(status=Status.PROCESSING)
    stale = Task.objects.get(pk=task.pk)
    task.complete_processing()

    with pytest.raises(InvalidTransition, match="it no longer exists, but 'processing' is required") as refused:
        stale.fail_processing()
    assert refused.value.current is None


def test_claim_takes_the_oldest_pending_tasks_first():
    newest = TaskFactory.create(datetime=TASKS_START + datetime.timedelta(hours=3))
    oldest = TaskFactory.create(datetime=TASKS_START)
    middle = TaskFactory.create(datetime=TASKS_START + datetime.timedelta(hours=1))
    TaskFactory.create(datetime=TASKS_START - datetime.timedelta(hours=1), status=Status.FAILED)

    claimed = Task.objects.claim(count=2)

    assert claimed == [oldest, middle]
    assert [task.status for task in claimed] == ["processing", "processing"]
    assert [stored_status(task) for task in (oldest, middle, newest)] == ["processing", "processing", "pending"]


def test_claim_is_one_statement(django_assert_num_queries):
    TaskFactory.create_batch(3)

    with django_assert_num_queries(1) as captured:
        claimed = Task.objects.claim(count=2)

    assert len(claimed) == 2
    sql = captured.captured_queries[0]["sql"]
    assert sql.startswith("WITH")
    assert "UPDATE" in sql


def test_claim_hands_out_exactly_count_tasks_when_more_are_pending():
    TaskFactory.create_batch(20)

    assert [len(Task.objects.claim(count=3)) for _ in range(7)] == [3, 3, 3, 3, 3, 3, 2]
    assert not Task.objects.pending().exists()


def test_claim_takes_one_task_by_default():
    TaskFactory.create_batch(3)

    assert len(Task.objects.claim()) == 1


def test_claim_can_be_limited_to_one_ingestor():
    TaskFactory.create(task_ingestor="emails")
    invoice = TaskFactory.create(task_ingestor="invoices")

    assert Task.objects.claim(count=5, task_ingestor="invoices") == [invoice]
    assert Task.objects.claim(count=5, task_ingestor="invoices") == []
    assert Task.objects.filter(task_ingestor="emails", status="pending").count() == 1


def test_claim_never_returns_the_same_task_twice():
    tasks = TaskFactory.create_batch(5)

    first, second, third = Task.objects.claim(count=3), Task.objects.claim(count=3), Task.objects.claim(count=3)

    assert first + second == tasks
    assert third == []


@pytest.mark.parametrize("count", [0, -1, 10_001, 2**63, 1.5, True, "3"])
def test_claim_refuses_a_count_outside_1_to_10000_and_claims_nothing(count):
    task = TaskFactory.create()

    with pytest.raises(ValueError, match=r"claim\(\) takes a count from 1 to 10,000, not "):
        Task.objects.claim(count=count)

    task.refresh_from_db()
    assert (task.status, task.attempts) == (Task.Status.PENDING, 0)


def test_claim_takes_up_to_10000_at_once():
    TaskFactory.create_batch(3)

    assert len(Task.objects.claim(count=10_000)) == 3


def test_a_task_subclass_has_the_transitions():
    task = MyTaskFactory.create(my_field="payload")
    task.start_processing()
    assert MyTaskModel.objects.get(pk=task.pk).status == "processing"

    task.fail_processing()
    assert MyTaskModel.objects.get(pk=task.pk).status == "failed"

    with pytest.raises(InvalidTransition, match="its status is 'failed'"):
        task.start_processing()


def test_a_task_subclass_is_claimed_with_its_own_fields():
    MyTaskFactory.create(my_field="later", datetime=TASKS_START + datetime.timedelta(hours=1))
    MyTaskFactory.create(my_field="first", datetime=TASKS_START)

    (claimed,) = MyTaskModel.objects.claim()

    assert isinstance(claimed, MyTaskModel)
    assert claimed.my_field == "first"
    assert MyTaskModel.objects.get(pk=claimed.pk).status == "processing"


def test_completing_a_task_subclass_deletes_both_of_its_rows():
    task = MyTaskFactory.create(status=Status.PROCESSING)
    pk = task.pk

    task.complete_processing()

    assert not MyTaskModel.objects.filter(pk=pk).exists()
    assert not Task.objects.filter(pk=pk).exists()


def test_str_shows_the_status_label():
    assert str(TaskFactory.create(name="nightly import", status=Status.PROCESSING)) == "nightly import (Processing)"


def test_a_plain_claim_counts_the_attempt_and_sets_no_lease():
    task = TaskFactory.create()

    (claimed,) = Task.objects.claim()

    stored = Task.objects.get(pk=task.pk)
    assert (claimed.attempts, stored.attempts) == (1, 1)
    assert stored.started_at is not None
    assert (stored.lease_expires_at, stored.worker) == (None, "")


def test_claim_records_the_worker_and_its_lease():
    task = TaskFactory.create()
    before = timezone.now()

    (claimed,) = Task.objects.claim(worker="host-a:41", lease=30)

    stored = Task.objects.get(pk=task.pk)
    assert (stored.worker, stored.attempts, stored.status) == ("host-a:41", 1, "processing")
    assert stored.started_at is not None
    assert stored.lease_expires_at is not None
    assert before <= stored.started_at <= timezone.now()
    assert stored.lease_expires_at - stored.started_at == datetime.timedelta(seconds=30)
    assert (claimed.worker, claimed.lease_expires_at) == (stored.worker, stored.lease_expires_at)


def test_claim_takes_the_tasks_of_several_ingestors():
    emails, invoices = TaskFactory.create(task_ingestor="emails"), TaskFactory.create(task_ingestor="invoices")
    TaskFactory.create(task_ingestor="reports")

    assert Task.objects.claim(count=5, task_ingestors=["invoices", "emails"]) == [emails, invoices]
    assert Task.objects.claim(count=5, task_ingestors=[]) == []
    assert list(Task.objects.pending().values_list("task_ingestor", flat=True)) == ["reports"]


def test_claim_takes_one_ingestor_or_several_not_both():
    with pytest.raises(ValueError, match="not both"):
        Task.objects.claim(task_ingestor="emails", task_ingestors=["invoices"])


def test_fail_processing_keeps_the_error():
    task = TaskFactory.create(status=Status.PROCESSING)

    task.fail_processing(error="Traceback ...\nValueError: bad row 7")

    stored = Task.objects.get(pk=task.pk)
    assert (stored.status, stored.last_error) == ("failed", "Traceback ...\nValueError: bad row 7")


def test_a_retry_with_no_wait_can_be_claimed_at_once():
    """The next claim takes it, whatever the database clock's precision (SQLite's reads milliseconds)."""
    task = TaskFactory.create()
    (claimed,) = Task.objects.claim()

    claimed.retry_later(timezone.now(), error="ValueError: try again")

    assert [again.pk for again in Task.objects.claim()] == [task.pk]


def test_a_retry_waits_for_its_run_after():
    task = TaskFactory.create()
    (claimed,) = Task.objects.claim()
    later = timezone.now() + datetime.timedelta(minutes=5)

    claimed.retry_later(later, error="ValueError: try again")

    assert Task.objects.claim() == []
    assert Task.objects.values_list("status", "run_after", "last_error").get(pk=task.pk) == (
        "pending",
        later,
        "ValueError: try again",
    )


def test_requeue_moves_a_failed_task_back_to_pending_with_a_fresh_allowance():
    task = TaskFactory.create()
    (claimed,) = Task.objects.claim(worker="host-a:41", lease=30)
    claimed.fail_processing(error="ValueError: bad row 7")

    claimed.requeue()

    stored = Task.objects.get(pk=task.pk)
    assert (stored.status, stored.attempts, stored.worker) == ("pending", 0, "")
    assert (stored.started_at, stored.lease_expires_at) == (None, None)
    assert stored.last_error == "ValueError: bad row 7"  # kept until the next failure
    assert claimed.status == "pending"
    assert Task.objects.claim() == [stored]


@pytest.mark.parametrize("status", [Status.PENDING, Status.PROCESSING])
def test_requeue_needs_a_failed_task(status):
    task = TaskFactory.create(status=status)

    with pytest.raises(InvalidTransition, match=f"its status is '{status.value}', but 'failed' is required"):
        task.requeue()
    assert stored_status(task) == status


def claimed_with_expired_lease(worker="host-a:41", **factory):
    """A task claimed by `worker` whose lease has run out (as if the worker had died)."""
    task = TaskFactory.create(**factory)
    Task.objects.filter(pk=task.pk).claim(worker=worker, lease=30)
    Task.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - datetime.timedelta(seconds=1))
    return Task.objects.get(pk=task.pk)


def test_recover_expired_puts_a_dead_workers_task_back_to_pending():
    task = claimed_with_expired_lease(worker="host-a:41")
    alive = TaskFactory.create()
    Task.objects.filter(pk=alive.pk).claim(worker="host-b:7", lease=30)

    assert Task.objects.recover_expired(max_attempts=3) == (1, 0)

    stored = Task.objects.get(pk=task.pk)
    assert (stored.status, stored.attempts, stored.worker, stored.lease_expires_at) == ("pending", 1, "", None)
    assert stored.last_error == (
        "The lease of attempt 1 expired while worker host-a:41 was running it (the worker died, was killed, or "
        "hung); the task was put back to pending."
    )
    assert stored_status(alive) == "processing"  # a live lease is left alone
    (again,) = Task.objects.claim(worker="host-b:7", lease=30)
    assert (again.pk, again.attempts) == (task.pk, 2)


def test_recover_expired_fails_a_task_after_its_last_attempt():
    task = claimed_with_expired_lease()
    Task.objects.filter(pk=task.pk).update(attempts=3)

    assert Task.objects.recover_expired(max_attempts=3) == (0, 1)

    stored = Task.objects.get(pk=task.pk)
    assert (stored.status, stored.lease_expires_at) == ("failed", None)
    assert stored.last_error == (
        "Gave up after attempt 3 of 3: its lease expired while worker host-a:41 was running it (the worker died, "
        "was killed, or hung)."
    )


def test_recover_expired_can_be_limited_to_some_ingestors():
    claimed_with_expired_lease(task_ingestor="emails")

    assert Task.objects.recover_expired(task_ingestors=["invoices"]) == (0, 0)
    assert Task.objects.recover_expired(task_ingestors=["emails", "invoices"]) == (1, 0)


def test_a_claim_without_a_lease_never_expires():
    task = TaskFactory.create()
    Task.objects.claim()

    assert Task.objects.recover_expired() == (0, 0)
    assert not Task.objects.lease_expired().exists()
    assert stored_status(task) == "processing"


def test_a_worker_whose_lease_was_taken_over_can_neither_complete_nor_fail_the_task():
    first = claimed_with_expired_lease(worker="host-a:41")
    Task.objects.recover_expired()
    (second,) = Task.objects.claim(worker="host-b:7", lease=30)

    for transition in (first.complete_processing, first.fail_processing):
        with pytest.raises(LeaseLost) as lost:
            transition()
        assert str(lost.value).endswith(
            "its lease was lost. Attempt 1 by host-a:41 no longer holds it; attempt 2 by worker host-b:7 does."
        )
        assert (lost.value.holder, lost.value.attempt, lost.value.current) == ("host-b:7", 2, "processing")
        assert isinstance(lost.value, InvalidTransition)
    assert first.renew_lease(30) is False

    assert second.renew_lease(60) is True
    second.complete_processing()
    assert not Task.objects.filter(pk=first.pk).exists()


def test_renew_lease_pushes_the_expiry_forward():
    TaskFactory.create()
    (task,) = Task.objects.claim(worker="host-a:41", lease=1)
    first_expiry = task.lease_expires_at
    assert first_expiry is not None

    assert task.renew_lease(120) is True
    assert task.lease_expires_at is not None

    assert Task.objects.get(pk=task.pk).lease_expires_at == task.lease_expires_at > first_expiry
    assert task.lease_expires_at - timezone.now() > datetime.timedelta(seconds=100)


def test_lease_expired_lists_processing_tasks_past_their_lease():
    expired = claimed_with_expired_lease()
    TaskFactory.create()
    Task.objects.claim(worker="host-b:7", lease=30)

    assert list(Task.objects.lease_expired()) == [expired]
    assert expired.lease_expired
    other = Task.objects.exclude(pk=expired.pk).first()
    assert other is not None
    assert not other.lease_expired


def test_a_task_subclass_is_recovered_and_requeued_on_the_task_table():
    task = MyTaskFactory.create()
    Task.objects.filter(pk=task.pk).claim(worker="host-a:41", lease=30)
    Task.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - datetime.timedelta(seconds=1))

    assert MyTaskModel.objects.recover_expired() == (1, 0)
    (claimed,) = MyTaskModel.objects.claim(worker="host-b:7", lease=30)
    claimed.fail_processing(error="boom")
    claimed.requeue()

    assert MyTaskModel.objects.get(pk=task.pk).status == "pending"


@pytest.fixture
def fast_delete(monkeypatch):
    """As in a project with no Task subclass and no delete signal on Task (the test apps add subclasses): Django
    would delete a task's row with one plain DELETE, and complete_processing() takes its one-statement path."""
    can_fast_delete = Collector.can_fast_delete

    def task_rows_too(self, objs, from_field=None):
        return getattr(objs, "model", None) is Task or can_fast_delete(self, objs, from_field)

    monkeypatch.setattr(Collector, "can_fast_delete", task_rows_too)


def test_completing_is_one_compare_and_set_delete_where_django_would_fast_delete(fast_delete):
    TaskFactory.create()
    (task,) = Task.objects.claim(worker="host-a:41", lease=30)
    pk = task.pk

    with CaptureQueriesContext(connection) as captured:
        task.complete_processing()

    writes = [query["sql"] for query in captured.captured_queries if not query["sql"].startswith(("BEGIN", "SAVE"))]
    assert len(writes) == 1
    assert writes[0].startswith("DELETE")
    assert all(column in writes[0] for column in ('"status"', '"worker"', '"attempts"'))
    assert task.status == "processed"
    assert task.pk is None
    assert not Task.objects.filter(pk=pk).exists()


def test_the_one_statement_completion_refuses_what_the_transition_refuses(fast_delete):
    pending = TaskFactory.create(name="not started")
    with pytest.raises(InvalidTransition, match="its status is 'pending', but 'processing' is required"):
        pending.complete_processing()
    assert stored_status(pending) == "pending"

    first = claimed_with_expired_lease(worker="host-a:41")
    Task.objects.recover_expired()
    Task.objects.filter(pk=first.pk).claim(worker="host-b:7", lease=30)
    with pytest.raises(LeaseLost, match="attempt 2 by worker host-b:7 does"):
        first.complete_processing()
    assert stored_status(first) == "processing"

    gone = TaskFactory.create(status=Status.PROCESSING)
    Task.objects.filter(pk=gone.pk).delete()
    with pytest.raises(InvalidTransition, match="it no longer exists"):
        gone.complete_processing()
