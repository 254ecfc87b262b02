"""The admin of the @task side (apps/core/tasks/admin.py): results with their status, attempts, errors and return
value, the retry action, the schedules with their next run, and the Task list's filter for tasks no worker serves."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.models import Task
from apps.core.tasks import periodic
from apps.core.tasks.framework import TaskResultStatus
from apps.core.tasks.models import PeriodicRun, TaskResultRecord

from ..utils import changelist_pks, messages_of, run_action
from ..workerapp import tasks

pytestmark = pytest.mark.django_db

Status = TaskResultStatus


def finish(result, status, return_value=None, errors=()):
    """Make `result` look as a worker leaves it: succeeded (Task row gone) or failed (Task row failed)."""
    record = TaskResultRecord.objects.get(pk=result.id)
    record.status, record.return_value, record.finished_at = status, return_value, timezone.now()
    record.worker_ids = ["host-a:7"] * max(len(errors), 1)
    record.errors = [{"exception_class_path": "builtins.ValueError", "traceback": text} for text in errors]
    record.save()
    if status == Status.SUCCESSFUL:
        Task.objects.filter(result=record).delete()
    else:
        Task.objects.filter(result=record).update(status="failed", attempts=len(errors))
    return record


def test_the_result_page_shows_status_attempts_errors_and_return_value(admin_client):
    failed = finish(tasks.add.enqueue(1, 2), Status.FAILED, errors=["Traceback\n  ValueError: <one>", "two"])
    succeeded = finish(tasks.add.enqueue(3, 4), Status.SUCCESSFUL, return_value={"sum": 7})

    page = admin_client.get(reverse("admin:core_taskresultrecord_change", args=[failed.pk])).content.decode()
    assert "Failed" in page
    assert "<pre>Traceback\n  ValueError: &lt;one&gt;</pre>" in page
    assert "<code>builtins.ValueError</code>" in page
    assert "host-a:7, host-a:7" in page
    page = admin_client.get(reverse("admin:core_taskresultrecord_change", args=[succeeded.pk])).content.decode()
    assert "Successful" in page
    assert "&quot;sum&quot;: 7" in page


def test_the_status_filter_reads_the_current_status(admin_client):
    ready = tasks.add.enqueue(1, 1)
    running = tasks.add.enqueue(1, 2)
    Task.objects.filter(result__pk=running.id).update(status="processing")
    failed = finish(tasks.add.enqueue(1, 3), Status.FAILED, errors=["x"])
    succeeded = finish(tasks.add.enqueue(1, 4), Status.SUCCESSFUL, return_value=5)

    found = {
        status: changelist_pks(admin_client, TaskResultRecord, f"?status={status}")
        for status in ("READY", "RUNNING", "FAILED", "SUCCESSFUL")
    }

    assert {status: {str(pk) for pk in pks} for status, pks in found.items()} == {
        "READY": {ready.id},
        "RUNNING": {running.id},
        "FAILED": {str(failed.pk)},
        "SUCCESSFUL": {str(succeeded.pk)},
    }


def test_retry_puts_failed_tasks_back_in_their_queue_and_names_the_others(admin_client):
    failed = finish(tasks.add.enqueue(1, 2), Status.FAILED, errors=["x"])
    succeeded = finish(tasks.add.enqueue(3, 4), Status.SUCCESSFUL, return_value=7)

    response = run_action(admin_client, TaskResultRecord, "retry", [failed, succeeded])

    assert messages_of(response) == [
        "1 task put back in its queue.",
        "Only failed tasks still held by their task row can be retried; left alone: "
        "apps.core.tests.workerapp.tasks.add",
    ]
    queued = Task.objects.get(result=failed)
    assert (queued.status, queued.attempts) == ("pending", 0)
    assert tasks.add.get_result(str(failed.pk)).status == Status.READY


def test_results_cannot_be_added_by_hand(admin_client):
    assert admin_client.get(reverse("admin:core_taskresultrecord_add")).status_code == 403


def test_the_schedules_are_listed_with_their_next_run(admin_client, registry, settings):
    settings.TIME_ZONE = "UTC"
    periodic("0 3 * * *", ingestor="nightly")
    periodic("*/5 * * * *")(tasks.add)
    PeriodicRun.objects.create(schedule="ingestor:nightly", slot=datetime.datetime(2026, 5, 1, 3, tzinfo=datetime.UTC))

    before = timezone.now()
    response = admin_client.get(reverse("admin:core_periodicrun_changelist"))
    after = timezone.now()

    schedules = response.context["schedules"]
    assert [(schedule["target"], schedule["cron"]) for schedule in schedules] == [
        ("task apps.core.tests.workerapp.tasks.add", "*/5 * * * *"),
        ("ingestor 'nightly'", "0 3 * * *"),
    ]
    # The page computed the next run at some moment between the two (the clock may cross a slot meanwhile).
    assert before < schedules[0]["next_run"] <= after + datetime.timedelta(minutes=5)
    assert schedules[1]["next_run"].hour == 3
    assert schedules[1]["last_run"] == datetime.datetime(2026, 5, 1, 3, tzinfo=datetime.UTC)
    assert "<code>0 3 * * *</code>" in response.content.decode()


def test_the_task_list_filters_the_tasks_no_worker_serves(admin_client):
    orphan = Task.objects.create(name="orphan", task_ingestor="nobody")
    Task.objects.create(name="served", task_ingestor="record")
    tasks.add.enqueue(1, 1)  # a @task function: served by any worker serving its queue

    assert changelist_pks(admin_client, Task, "?served=no") == {orphan.pk}
