"""Task: its transitions, the refusals (with what they say and what they leave untouched), and claiming."""

import datetime

import pytest
from django.db import DatabaseError

from apps.core import exceptions
from apps.core.models import InvalidTransition, Task

from .factories import TASKS_START, MyTaskFactory, TaskFactory
from .testapp.models import MyTaskModel

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
    assert TaskFactory().status == "pending"


def test_invalid_transition_is_importable_from_the_models():
    assert InvalidTransition is exceptions.InvalidTransition


def test_start_processing_moves_pending_to_processing():
    task = TaskFactory()
    task.start_processing()

    assert task.status == stored_status(task) == "processing"


def test_fail_processing_moves_processing_to_failed():
    task = TaskFactory(status=Status.PROCESSING)
    task.fail_processing()

    assert task.status == stored_status(task) == "failed"


def test_complete_processing_deletes_the_record():
    task = TaskFactory(status=Status.PROCESSING)
    pk = task.pk
    task.complete_processing()

    assert task.status == "processed"
    assert not Task.objects.filter(pk=pk).exists()


def test_complete_processing_keeps_the_task_when_the_delete_fails(monkeypatch):
    task = TaskFactory(status=Status.PROCESSING)

    def failing_delete(*args, **kwargs):
        raise DatabaseError("the delete failed")

    monkeypatch.setattr(task, "delete", failing_delete)
    with pytest.raises(DatabaseError, match="the delete failed"):
        task.complete_processing()

    assert stored_status(task) == "processing"  # the status change was rolled back with the failed delete


@pytest.mark.parametrize(("method", "status"), INVALID)
def test_a_transition_from_the_wrong_status_is_refused_and_changes_nothing(method, status):
    task = TaskFactory(name="nightly import", status=status)
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
    task = TaskFactory()
    stale = Task.objects.get(pk=task.pk)
    task.start_processing()

    with pytest.raises(InvalidTransition, match="its status is 'processing', but 'pending' is required"):
        stale.start_processing()
    assert stale.status == "pending"  # the stale copy is not silently updated either
    assert stored_status(task) == "processing"


def test_a_stale_instance_of_a_completed_task_is_told_it_no_longer_exists():
    task = TaskFactory(status=Status.PROCESSING)
    stale = Task.objects.get(pk=task.pk)
    task.complete_processing()

    with pytest.raises(InvalidTransition, match="it no longer exists, but 'processing' is required") as refused:
        stale.fail_processing()
    assert refused.value.current is None


def test_claim_takes_the_oldest_pending_tasks_first():
    newest = TaskFactory(datetime=TASKS_START + datetime.timedelta(hours=3))
    oldest = TaskFactory(datetime=TASKS_START)
    middle = TaskFactory(datetime=TASKS_START + datetime.timedelta(hours=1))
    TaskFactory(datetime=TASKS_START - datetime.timedelta(hours=1), status=Status.FAILED)

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
    TaskFactory(task_ingestor="emails")
    invoice = TaskFactory(task_ingestor="invoices")

    assert Task.objects.claim(count=5, task_ingestor="invoices") == [invoice]
    assert Task.objects.claim(count=5, task_ingestor="invoices") == []
    assert Task.objects.filter(task_ingestor="emails", status="pending").count() == 1


def test_claim_never_returns_the_same_task_twice():
    tasks = TaskFactory.create_batch(5)

    first, second, third = Task.objects.claim(count=3), Task.objects.claim(count=3), Task.objects.claim(count=3)

    assert first + second == tasks
    assert third == []


def test_claim_needs_a_positive_count():
    with pytest.raises(ValueError, match="at least 1"):
        Task.objects.claim(count=0)


def test_a_task_subclass_has_the_transitions():
    task = MyTaskFactory(my_field="payload")
    task.start_processing()
    assert MyTaskModel.objects.get(pk=task.pk).status == "processing"

    task.fail_processing()
    assert MyTaskModel.objects.get(pk=task.pk).status == "failed"

    with pytest.raises(InvalidTransition, match="its status is 'failed'"):
        task.start_processing()


def test_a_task_subclass_is_claimed_with_its_own_fields():
    MyTaskFactory(my_field="later", datetime=TASKS_START + datetime.timedelta(hours=1))
    MyTaskFactory(my_field="first", datetime=TASKS_START)

    (claimed,) = MyTaskModel.objects.claim()

    assert isinstance(claimed, MyTaskModel)
    assert claimed.my_field == "first"
    assert MyTaskModel.objects.get(pk=claimed.pk).status == "processing"


def test_completing_a_task_subclass_deletes_both_of_its_rows():
    task = MyTaskFactory(status=Status.PROCESSING)
    pk = task.pk

    task.complete_processing()

    assert not MyTaskModel.objects.filter(pk=pk).exists()
    assert not Task.objects.filter(pk=pk).exists()
