"""The admin: Task's list and actions, and the mixins for users' trackable and timestamped models."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.checks import run_checks
from django.urls import reverse

from apps.core.admin import TaskAdmin
from apps.core.current_user import acting_as
from apps.core.models import Task

from .factories import DocumentFactory, MyTaskFactory, NoteFactory, TaskFactory, UserFactory
from .testapp.models import Document, MyTaskModel, Note
from .utils import change

pytestmark = pytest.mark.django_db

Status = Task.Status


def run_action(client, model, action, objects, query="", **extra):
    """Post an action from the changelist page at `query`, as the admin's action form does."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") + query
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], **extra}
    return client.post(url, data, follow=True)


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def changelist_pks(client, model, query=""):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = client.get(url + query)
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


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


def test_change_page_shows_the_audit_fields_read_only_and_the_history_as_a_table(admin_client):
    author = UserFactory()
    with acting_as(author):
        document = DocumentFactory(title="<b>first</b>")
        document.title = "second"
        document.save()

    response = admin_client.get(reverse("admin:testapp_document_change", args=[document.pk]))

    assert response.status_code == 200
    form_fields = response.context["adminform"].form.fields
    assert not {"created_at", "created_by", "updated_at", "updated_by", "history"} & set(form_fields)
    html = response.content.decode()
    assert html.count('<table class="history-table">') == 1
    table = html[html.index('<table class="history-table">') : html.index("</table>", html.index("history-table"))]
    assert table.count("<tr>") == 3  # the header and two entries
    assert table.count(author.get_username()) == 2
    assert "<td>Created</td>" in table
    assert "<td>Changed</td>" in table
    assert "<strong>Title</strong>: &lt;b&gt;first&lt;/b&gt; &rarr; second" in table  # values are escaped
    assert "<b>first</b>" not in table


def test_editing_through_the_admin_records_the_admin_user_and_only_the_real_changes(admin_client, admin_user):
    document = DocumentFactory(title="before")
    data = {
        "title": "after",
        "body": "",
        "views": "0",
        "price": "",
        "ref": str(document.ref),
        "published_on": "",
        "publish_at_0": "",
        "publish_at_1": "",
        "category": "",
        "data": "{}",
        "api_token": "",
    }

    response = admin_client.post(reverse("admin:testapp_document_change", args=[document.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    document = Document.objects.get(pk=document.pk)
    assert document.updated_by == admin_user
    entry = document.history[-1]
    assert (entry["by"], entry["by_name"], entry["changes"]) == (
        admin_user.pk,
        admin_user.get_username(),
        {"title": change("before", "after")},
    )


def test_add_page_has_no_audit_section(admin_client):
    response = admin_client.get(reverse("admin:testapp_document_add"))

    assert response.status_code == 200
    assert "Audit trail" not in response.content.decode()


def test_timestamped_changelist_hides_deleted_rows_until_asked(admin_client):
    alive, deleted = NoteFactory(), NoteFactory()
    deleted.delete()

    assert changelist_pks(admin_client, Note) == {alive.pk}
    assert changelist_pks(admin_client, Note, "?deleted=yes") == {deleted.pk}
    assert changelist_pks(admin_client, Note, "?deleted=all") == {alive.pk, deleted.pk}


def test_a_deleted_row_can_be_opened_and_restored(admin_client):
    note = NoteFactory()
    note.delete()

    assert admin_client.get(reverse("admin:testapp_note_change", args=[note.pk])).status_code == 200
    response = run_action(admin_client, Note, "restore", [note], query="?deleted=yes")

    assert messages_of(response) == ["Restored 1 row."]
    assert Note.objects.filter(pk=note.pk).exists()
    assert [entry["action"] for entry in Note.objects.get(pk=note.pk).history] == ["create", "delete", "restore"]


def test_delete_action_is_labelled_and_done_as_a_soft_delete(admin_client):
    notes = NoteFactory.create_batch(2)

    confirmation = run_action(admin_client, Note, "delete_selected", notes)
    assert confirmation.status_code == 200
    # Only the selected rows are listed: a soft delete cascades to nothing.
    assert sorted(confirmation.context["deletable_objects"][0]) == sorted(str(note) for note in notes)
    assert Note.objects.count() == 2  # nothing happens before the confirmation

    run_action(admin_client, Note, "delete_selected", notes, post="yes")

    assert not Note.objects.exists()
    assert Note.all_objects.deleted().count() == 2


def test_delete_action_and_delete_page_say_the_delete_can_be_undone(admin_client):
    note = NoteFactory()

    changelist = admin_client.get(reverse("admin:testapp_note_changelist"))
    choices = dict(changelist.context["action_form"].fields["action"].choices)
    assert choices["delete_selected"] == "Delete selected notes (can be restored)"
    assert choices["restore"] == "Restore selected notes"

    delete_page = admin_client.get(reverse("admin:testapp_note_delete", args=[note.pk]))
    assert "can be restored" in delete_page.content.decode()

    admin_client.post(reverse("admin:testapp_note_delete", args=[note.pk]), {"post": "yes"})
    assert Note.all_objects.get(pk=note.pk).is_deleted
