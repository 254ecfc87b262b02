"""The admin of Task: its list and actions. (The mixins for users' own models: audit/test_history_admin.py.)"""

import datetime

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.core.checks import run_checks
from django.urls import reverse
from django.utils import timezone

from apps.core.admin import TaskAdmin, TaskStatusFilter
from apps.core.models import Task
from apps.core.tasks.admin import UnservedIngestorFilter

from ..factories import MyTaskFactory, TaskFactory, UserFactory
from ..testapp.models import MyTaskModel
from ..utils import changelist_pks, messages_of, run_action

pytestmark = pytest.mark.django_db

Status = Task.Status


def test_task_admin_is_registered_with_its_columns_filters_and_actions(rf, admin_user):
    task_admin = admin.site._registry[Task]
    request = rf.get("/")
    request.user = admin_user

    assert isinstance(task_admin, TaskAdmin)
    assert task_admin.list_display == ("name", "task_ingestor", "status", "attempts", "worker", "datetime")
    assert task_admin.list_filter == (TaskStatusFilter, UnservedIngestorFilter, "task_ingestor")
    assert task_admin.date_hierarchy == "datetime"
    assert set(task_admin.search_fields) == {"name", "task_ingestor"}
    assert set(task_admin.get_actions(request)) >= {
        "start_processing",
        "complete_processing",
        "fail_processing",
        "requeue",
    }


def test_task_changelist_filters_and_searches(admin_client):
    pending = TaskFactory.create(name="send invoices", task_ingestor="billing")
    processing = TaskFactory.create(name="resize images", task_ingestor="media", status=Status.PROCESSING)

    assert changelist_pks(admin_client, Task) == {pending.pk, processing.pk}
    assert changelist_pks(admin_client, Task, "?status=processing") == {processing.pk}
    assert changelist_pks(admin_client, Task, "?task_ingestor=billing") == {pending.pk}
    assert changelist_pks(admin_client, Task, "?q=invoices") == {pending.pk}
    assert changelist_pks(admin_client, Task, f"?datetime__year={pending.datetime.year}") == {
        pending.pk,
        processing.pk,
    }


def test_the_status_filter_offers_lease_expired_and_no_processed_choice(admin_client):
    response = admin_client.get(reverse("admin:core_task_changelist"))

    (status_filter,) = [spec for spec in response.context["cl"].filter_specs if isinstance(spec, TaskStatusFilter)]
    choices = [choice["display"] for choice in status_filter.choices(response.context["cl"])]
    assert choices == ["All", "Pending", "Processing", "Processing, lease expired", "Failed"]


def test_the_lease_expired_filter_lists_tasks_whose_worker_died(admin_client):
    TaskFactory.create_batch(2)
    dead, alive = Task.objects.claim(count=2, worker="host-a:41", lease=30)
    Task.objects.filter(pk=dead.pk).update(lease_expires_at=timezone.now() - datetime.timedelta(seconds=1))

    assert changelist_pks(admin_client, Task, "?status=lease_expired") == {dead.pk}
    assert changelist_pks(admin_client, Task, "?status=processing") == {dead.pk, alive.pk}


def test_the_change_page_shows_the_workers_fields_read_only(admin_client):
    task = TaskFactory.create(
        status=Status.FAILED, attempts=2, worker="host-a:41", last_error="Traceback\n  ValueError: <x>"
    )

    response = admin_client.get(reverse("admin:core_task_change", args=[task.pk]))

    assert response.status_code == 200
    form_fields = response.context["adminform"].form.fields
    assert "name" in form_fields
    assert not {"status", "attempts", "worker", "last_error", "started_at", "lease_expires_at"} & set(form_fields)
    page = response.content.decode()
    assert "<pre>Traceback\n  ValueError: &lt;x&gt;</pre>" in page
    assert "host-a:41" in page


def test_a_task_added_through_the_admin_starts_pending(admin_client):
    response = admin_client.post(reverse("admin:core_task_add"), {"name": "from the admin", "task_ingestor": "manual"})

    assert response.status_code == 302
    task = Task.objects.get(name="from the admin")
    assert (task.task_ingestor, task.status, task.attempts) == ("manual", "pending", 0)


def test_the_admin_classes_pass_the_system_checks():
    errors = run_checks(app_configs=[apps.get_app_config("core"), apps.get_app_config("testapp")], tags=["admin"])

    assert errors == []


def test_start_processing_reports_what_moved_and_one_line_per_reason(admin_client):
    first, second = TaskFactory.create_batch(2)
    busy = TaskFactory.create(name="Task two", status=Status.PROCESSING)
    broken = TaskFactory.create(name="Import batch 7", status=Status.FAILED)

    response = run_action(admin_client, Task, "start_processing", [first, second, busy, broken])

    assert Task.objects.get(pk=first.pk).status == Task.objects.get(pk=second.pk).status == "processing"
    assert messages_of(response) == [
        "2 tasks moved from Pending to Processing.",
        "2 tasks were not pending: Task two, Import batch 7",
    ]
    assert (busy.status, broken.status) == (Status.PROCESSING, Status.FAILED)


def test_a_long_refusal_lists_ten_names_then_how_many_more(admin_client):
    tasks = TaskFactory.create_batch(13, status=Status.FAILED)

    response = run_action(admin_client, Task, "start_processing", tasks)

    (refusal,) = messages_of(response)
    names = ", ".join(task.name for task in tasks[:10])
    assert refusal == f"13 tasks were not pending: {names} and 3 more"


def test_complete_processing_deletes_the_completed_tasks_and_logs_their_deletion(admin_client, admin_user):
    done = TaskFactory.create(name="nightly import", status=Status.PROCESSING)
    not_started = TaskFactory.create(name="not started")

    response = run_action(admin_client, Task, "complete_processing", [done, not_started])

    assert not Task.objects.filter(pk=done.pk).exists()
    assert Task.objects.get(pk=not_started.pk).status == "pending"
    assert messages_of(response) == ["1 task completed and deleted.", "1 task was not processing: not started"]
    (entry,) = LogEntry.objects.all()
    assert (entry.action_flag, entry.object_id, entry.user_id) == (DELETION, str(done.pk), admin_user.pk)
    assert entry.object_repr == "nightly import (Processing)"
    assert entry.get_change_message() == "Completed (Processing to Processed), then deleted."


def test_complete_processing_needs_the_delete_permission(client):
    clerk = UserFactory.create(is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename__in=["view_task", "change_task"]))
    client.force_login(clerk)
    task = TaskFactory.create(status=Status.PROCESSING)

    response = run_action(client, Task, "complete_processing", [task])

    assert messages_of(response) == [
        "Completing a task deletes it, and you do not have permission to delete tasks. Nothing was changed."
    ]
    assert Task.objects.get(pk=task.pk).status == "processing"
    assert not LogEntry.objects.exists()


def test_actions_need_the_change_permission(client):
    viewer = UserFactory.create(is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_task", "delete_task"]))
    client.force_login(viewer)
    task = TaskFactory.create()

    response = run_action(client, Task, "start_processing", [task])

    assert Task.objects.get(pk=task.pk).status == "pending"
    assert messages_of(response) == ["No action selected."]
    assert not LogEntry.objects.exists()


def test_fail_processing_marks_the_tasks_failed_saying_who_and_logs_each_change(admin_client, admin_user):
    tasks = TaskFactory.create_batch(2, status=Status.PROCESSING)

    response = run_action(admin_client, Task, "fail_processing", tasks)

    assert messages_of(response) == ["2 tasks moved from Processing to Failed."]
    assert set(Task.objects.values_list("status", "last_error")) == {
        ("failed", f"Marked as failed in the admin by {admin_user.get_username()}.")
    }
    entries = LogEntry.objects.order_by("pk")  # logged in the tasks' order (object_id is text: "100" < "99")
    assert [(entry.action_flag, entry.object_id) for entry in entries] == [(CHANGE, str(task.pk)) for task in tasks]
    assert {entry.get_change_message() for entry in entries} == {"Status changed from Processing to Failed."}


def test_requeue_brings_failed_tasks_back_to_pending(admin_client):
    failed = TaskFactory.create(name="failed one", status=Status.FAILED, attempts=3, last_error="boom")
    pending = TaskFactory.create(name="Task two")

    response = run_action(admin_client, Task, "requeue", [failed, pending])

    stored = Task.objects.get(pk=failed.pk)
    assert (stored.status, stored.attempts, stored.last_error) == ("pending", 0, "boom")
    assert messages_of(response) == ["1 task moved from Failed to Pending.", "1 task had not failed: Task two"]
    assert LogEntry.objects.get().get_change_message() == "Status changed from Failed to Pending."


def test_an_action_where_nothing_could_move_says_so(admin_client):
    task = TaskFactory.create(name="done for", status=Status.FAILED)

    response = run_action(admin_client, Task, "fail_processing", [task])

    assert messages_of(response) == ["1 task was not processing: done for"]
    assert Task.objects.get(pk=task.pk).status == "failed"
    assert not LogEntry.objects.exists()


def test_a_task_held_by_a_newer_attempt_is_reported_as_such(admin_client, monkeypatch):
    task = TaskFactory.create(name="contested")
    Task.objects.claim(worker="host-a:41", lease=30)
    real_fail = Task.fail_processing

    def overtaken_then_fail(self, **kwargs):
        # Between the admin loading the task and failing it, another worker took it over.
        Task.objects.filter(pk=self.pk).update(worker="host-b:7", attempts=2)
        return real_fail(self, **kwargs)

    monkeypatch.setattr(Task, "fail_processing", overtaken_then_fail)
    response = run_action(admin_client, Task, "fail_processing", [task])

    assert messages_of(response) == ["1 task is now held by another attempt of a worker: contested"]
    assert Task.objects.get(pk=task.pk).status == "processing"


def test_a_task_subclass_admin_lists_and_moves_its_tasks(admin_client):
    task = MyTaskFactory.create(my_field="payload")

    assert changelist_pks(admin_client, MyTaskModel) == {task.pk}
    response = run_action(admin_client, MyTaskModel, "start_processing", [task])

    assert messages_of(response) == ["1 task moved from Pending to Processing."]
    assert MyTaskModel.objects.get(pk=task.pk).status == "processing"
    response = admin_client.get(reverse("admin:testapp_mytaskmodel_change", args=[task.pk]))
    assert "my_field" in response.context["adminform"].form.fields
