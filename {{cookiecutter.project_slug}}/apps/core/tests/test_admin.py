"""The admin of Task: its list and actions. (The mixins for users' own models: test_audit_admin.py.)"""

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.checks import run_checks
from django.urls import reverse

from apps.core.admin import TaskAdmin
from apps.core.models import Task

from .factories import MyTaskFactory, TaskFactory
from .testapp.models import MyTaskModel
from .utils import changelist_pks, messages_of, run_action

pytestmark = pytest.mark.django_db

Status = Task.Status


def test_task_admin_is_registered_with_its_columns_filters_and_actions(rf, admin_user):
    task_admin = admin.site._registry[Task]
    request = rf.get("/")
    request.user = admin_user

    assert isinstance(task_admin, TaskAdmin)
    assert task_admin.list_display == ("name", "task_ingestor", "status", "datetime")
    assert task_admin.list_filter == ("status", "task_ingestor")
    assert task_admin.date_hierarchy == "datetime"
    assert set(task_admin.search_fields) == {"name", "task_ingestor"}
    assert {"start_processing", "complete_processing", "fail_processing"} <= set(task_admin.get_actions(request))


def test_task_changelist_filters_and_searches(admin_client):
    pending = TaskFactory(name="send invoices", task_ingestor="billing")
    processing = TaskFactory(name="resize images", task_ingestor="media", status=Status.PROCESSING)

    assert changelist_pks(admin_client, Task) == {pending.pk, processing.pk}
    assert changelist_pks(admin_client, Task, "?status__exact=processing") == {processing.pk}
    assert changelist_pks(admin_client, Task, "?task_ingestor=billing") == {pending.pk}
    assert changelist_pks(admin_client, Task, "?q=invoices") == {pending.pk}
    assert changelist_pks(admin_client, Task, f"?datetime__year={pending.datetime.year}") == {
        pending.pk,
        processing.pk,
    }


def test_task_status_is_read_only_on_the_change_page(admin_client):
    task = TaskFactory()

    response = admin_client.get(reverse("admin:core_task_change", args=[task.pk]))

    assert response.status_code == 200
    assert "status" not in response.context["adminform"].form.fields
    assert "name" in response.context["adminform"].form.fields


def test_a_task_added_through_the_admin_starts_pending(admin_client):
    response = admin_client.post(reverse("admin:core_task_add"), {"name": "from the admin", "task_ingestor": "manual"})

    assert response.status_code == 302
    task = Task.objects.get(name="from the admin")
    assert (task.task_ingestor, task.status) == ("manual", "pending")


def test_the_admin_classes_pass_the_system_checks():
    errors = run_checks(app_configs=[apps.get_app_config("core"), apps.get_app_config("testapp")], tags=["admin"])

    assert errors == []


def test_start_processing_action_reports_what_moved_and_what_could_not(admin_client):
    first, second = TaskFactory.create_batch(2)
    busy = TaskFactory(name="already busy", status=Status.PROCESSING)

    response = run_action(admin_client, Task, "start_processing", [first, second, busy])

    assert Task.objects.get(pk=first.pk).status == Task.objects.get(pk=second.pk).status == "processing"
    success, refusal = messages_of(response)
    assert success == "Started 2 tasks."
    assert refusal.startswith("1 task could not move: ")
    assert f"Cannot move task {busy.pk} ('already busy') to 'processing'" in refusal
    assert "its status is 'processing', but 'pending' is required" in refusal


def test_complete_processing_action_deletes_the_completed_tasks(admin_client):
    done = TaskFactory(status=Status.PROCESSING)
    not_started = TaskFactory()

    response = run_action(admin_client, Task, "complete_processing", [done, not_started])

    assert not Task.objects.filter(pk=done.pk).exists()
    assert Task.objects.get(pk=not_started.pk).status == "pending"
    success, refusal = messages_of(response)
    assert success == "Completed (and deleted) 1 task."
    assert "its status is 'pending', but 'processing' is required" in refusal


def test_fail_processing_action_marks_the_tasks_failed(admin_client):
    tasks = TaskFactory.create_batch(2, status=Status.PROCESSING)

    response = run_action(admin_client, Task, "fail_processing", tasks)

    assert set(Task.objects.values_list("status", flat=True)) == {"failed"}
    assert messages_of(response) == ["Marked as failed 2 tasks."]


def test_an_action_where_nothing_could_move_says_so(admin_client):
    task = TaskFactory(status=Status.FAILED)

    response = run_action(admin_client, Task, "fail_processing", [task])

    (refusal,) = messages_of(response)
    assert refusal.startswith("1 task could not move: ")
    assert "its status is 'failed', but 'processing' is required" in refusal
    assert Task.objects.get(pk=task.pk).status == "failed"


def test_a_task_subclass_admin_lists_and_moves_its_tasks(admin_client):
    task = MyTaskFactory(my_field="payload")

    assert changelist_pks(admin_client, MyTaskModel) == {task.pk}
    response = run_action(admin_client, MyTaskModel, "start_processing", [task])

    assert messages_of(response) == ["Started 1 task."]
    assert MyTaskModel.objects.get(pk=task.pk).status == "processing"
