"""`manage.py prune_tasks`: results of @task functions past their retention go (with the failed tasks holding them),
and so do the records of past periodic slots but the latest of each schedule; nothing else."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.core.models import Task
from apps.core.tasks.framework import TaskResultDoesNotExist, TaskResultStatus
from apps.core.tasks.models import PeriodicRun, TaskResultRecord

from ..workerapp import tasks

pytestmark = pytest.mark.django_db

Status = TaskResultStatus


def days_ago(days):
    return timezone.now() - datetime.timedelta(days=days)


@pytest.fixture
def results():
    """An old success, an old failure (its failed Task row kept), a recent success, and one still queued."""
    made = {}
    for name, status, finished in [
        ("old", Status.SUCCESSFUL, days_ago(10)),
        ("old failure", Status.FAILED, days_ago(10)),
        ("recent", Status.SUCCESSFUL, days_ago(1)),
        ("queued", Status.READY, None),
    ]:
        result = tasks.add.enqueue(1, 2)
        record = TaskResultRecord.objects.get(pk=result.id)
        record.status, record.finished_at = status, finished
        record.save()
        if status == Status.SUCCESSFUL:
            Task.objects.filter(result=record).delete()
        elif status == Status.FAILED:
            Task.objects.filter(result=record).update(status="failed")
        made[name] = result.id
    return made


def prune(*arguments):
    out = StringIO()
    call_command("prune_tasks", *arguments, stdout=out)
    return out.getvalue().strip()


def test_results_older_than_the_retention_go_with_their_failed_tasks(results):
    assert prune() == "Removed 2 task result(s) finished more than 7 day(s) ago and 0 periodic slot record(s)."

    for name in ("old", "old failure"):
        with pytest.raises(TaskResultDoesNotExist):
            tasks.add.get_result(results[name])
    assert tasks.add.get_result(results["recent"]).status == Status.SUCCESSFUL
    assert tasks.add.get_result(results["queued"]).status == Status.READY
    assert list(Task.objects.values_list("status", flat=True)) == ["pending"]  # the failed one went with its result


def test_a_task_whose_worker_died_on_its_last_attempt_is_pruned_by_that_attempt(results):
    lost = tasks.add.enqueue(5, 6)
    TaskResultRecord.objects.filter(pk=lost.id).update(status=Status.RUNNING, last_attempted_at=days_ago(10))
    Task.objects.filter(result__pk=lost.id).update(status="failed", last_error="Gave up after attempt 3 of 3: ...")

    assert prune().startswith("Removed 3 task result(s)")

    with pytest.raises(TaskResultDoesNotExist):
        tasks.add.get_result(lost.id)


def test_min_age_days_overrides_the_retention(results):
    assert prune("--min-age-days", "0.5").startswith("Removed 3 task result(s) finished more than 0.5 day(s) ago")
    assert TaskResultRecord.objects.get().status == Status.READY


def test_the_retention_comes_from_the_backends_options(results, settings):
    settings.TASKS = {
        "default": {"BACKEND": "apps.core.tasks.backend.DatabaseBackend", "OPTIONS": {"result_retention_days": 30}}
    }

    assert prune().startswith("Removed 0 task result(s) finished more than 30 day(s) ago")


def test_dry_run_counts_and_removes_nothing(results):
    assert prune("--dry-run") == (
        "Would remove 2 task result(s) finished more than 7 day(s) ago and 0 periodic slot record(s) (dry run: nothing "
        "removed)."
    )
    assert TaskResultRecord.objects.count() == 4


def test_past_periodic_slots_go_but_the_latest_of_each_schedule_stays():
    for schedule in ("a", "b"):
        for days in (30, 20, 10):
            PeriodicRun.objects.create(schedule=schedule, slot=days_ago(days))
    PeriodicRun.objects.create(schedule="a", slot=days_ago(0.1))

    assert prune().endswith("and 5 periodic slot record(s).")

    kept = {(run.schedule, round((timezone.now() - run.slot).days)) for run in PeriodicRun.objects.all()}
    assert kept == {("a", 0), ("b", 10)}
