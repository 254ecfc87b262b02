"""Real parallel workers racing for tasks: threads, each with its own database connection, released together by a
barrier. On SQLite and PostgreSQL alike: no task handed out twice, one winner per transition."""

import pytest

from apps.core.models import InvalidTransition, Task

from ..factories import TaskFactory
from ..utils import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 8


def test_concurrent_claims_hand_out_every_task_exactly_once():
    tasks = TaskFactory.create_batch(400)

    def worker(index, barrier):
        claimed: list[int] = []
        barrier.wait()
        while batch := Task.objects.claim(count=5):
            assert len(batch) <= 5
            assert all(task.status == "processing" for task in batch)
            claimed.extend(task.pk for task in batch)
        return claimed

    claimed = [pk for batch in run_in_parallel(worker, WORKERS) for pk in batch]

    assert len(claimed) == len(set(claimed)) == 400
    assert set(claimed) == {task.pk for task in tasks}
    assert not Task.objects.filter(status="pending").exists()
    assert Task.objects.filter(status="processing").count() == 400


def test_only_one_of_many_workers_starts_the_same_task():
    task = TaskFactory.create()

    def worker(index, barrier):
        mine = Task.objects.get(pk=task.pk)  # each worker holds its own, equally fresh, instance
        barrier.wait()
        try:
            mine.start_processing()
        except InvalidTransition as refused:
            return refused
        return "started"

    outcomes = run_in_parallel(worker, WORKERS)

    assert outcomes.count("started") == 1
    refusals = [outcome for outcome in outcomes if outcome != "started"]
    assert len(refusals) == WORKERS - 1
    assert all(isinstance(refused, InvalidTransition) for refused in refusals)
    assert {refused.current for refused in refusals} == {"processing"}
    assert Task.objects.get(pk=task.pk).status == "processing"
