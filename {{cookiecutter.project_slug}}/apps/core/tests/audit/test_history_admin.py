"""The admin mixins for users' own models: the audit trail on the change page and in its own view, and soft
delete as the admin shows it."""

import json
import re

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone

from apps.core.current_user import acting_as

from ..factories import DocumentFactory, NoteFactory, UserFactory
from ..testapp.models import Document, Folder, Handle, Note, Page, Retention, ReusableHandle
from ..utils import change, changelist_pks, messages_of, run_action

pytestmark = pytest.mark.django_db


def change_page(client, obj):
    opts = obj._meta
    response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert response.status_code == 200
    return response


def history_table(response):
    html = response.content.decode()
    start = html.index('<table class="audit-history">')
    return html[start : html.index("</table>", start)]


def shown(old, new):
    """A change as the history table shows it."""
    return f'{old}</span> &rarr; <span style="white-space: pre-wrap">{new}</span>'


# A query that selects the whole history column (not a part of it computed by the database).
WHOLE_HISTORY = re.compile(r'(SELECT|,)\s*"testapp_document"\."history"\s*(,|FROM)')


def with_entries(document, count):
    """Give `document` a history of `count` entries, written straight to the database."""
    entry = {"at": "2026-01-01T00:00:00.000000+00:00", "by": None, "by_name": "loader", "action": "update"}
    entries = [{**entry, "changes": {"views": change(i, i + 1)}} for i in range(count)]
    Document.objects.filter(pk=document.pk).update(views=count)
    with connection.cursor() as cursor:
        cast = "::jsonb" if connection.vendor == "postgresql" else ""
        cursor.execute(
            f"UPDATE testapp_document SET history = %s{cast} WHERE id = %s",  # noqa: S608 - constant table name
            [json.dumps(entries), document.pk],
        )


def test_change_page_shows_the_audit_fields_read_only_and_the_history_newest_first(admin_client):
    author = UserFactory.create()
    with acting_as(author):
        document = DocumentFactory.create(title="<b>first</b>")
        document.title = "second"
        document.save()

    response = change_page(admin_client, document)

    form_fields = response.context["adminform"].form.fields
    assert not {"created_at", "created_by", "updated_at", "updated_by", "history"} & set(form_fields)
    table = history_table(response)
    assert table.count("<tr>") == 3  # the header and two entries
    assert table.count(author.get_username()) == 2
    assert table.index("Changed") < table.index("Created")
    assert "&lt;b&gt;first&lt;/b&gt;" in table  # values are escaped
    assert "<b>first</b>" not in table


def test_entry_times_use_the_admins_date_format(admin_client):
    document = DocumentFactory.create(title="a")

    table = history_table(change_page(admin_client, document))

    assert formats.localize(timezone.template_localtime(document.created_at)) in table  # type: ignore[attr-defined]


def test_a_create_entry_does_not_list_empty_fields_and_text_keeps_its_line_breaks(admin_client):
    document = DocumentFactory.create(title="t", body="", views=0)
    document.body = "line one\nline two"
    document.save()

    table = history_table(change_page(admin_client, document))

    created = table[table.index("Created") :]
    assert "<strong>Title</strong>" in created
    assert "<strong>Body</strong>" not in created  # empty at creation
    assert "<strong>Views</strong>" in created  # 0 is a value
    assert '<span style="white-space: pre-wrap">line one\nline two</span>' in table


def test_values_of_a_field_now_excluded_are_never_shown(admin_client):
    document = DocumentFactory.create(title="a")
    with connection.cursor() as cursor:  # an entry recorded before api_token was excluded
        cast = "::jsonb" if connection.vendor == "postgresql" else ""
        old = [
            {
                "at": "2026-01-01T00:00:00+00:00",
                "by": None,
                "by_name": None,
                "action": "update",
                "changes": {"api_token": change("s3cret-old", "s3cret-new"), "title": change("z", "a")},
            }
        ]
        cursor.execute(f"UPDATE testapp_document SET history = %s{cast} WHERE id = %s", [json.dumps(old), document.pk])  # noqa: S608

    html = change_page(admin_client, document).content.decode()

    assert "s3cret" not in html
    assert "<strong>Title</strong>" in history_table(change_page(admin_client, document))


def test_a_long_history_shows_its_latest_entries_and_is_read_in_part(admin_client):
    short, long = DocumentFactory.create(title="short"), DocumentFactory.create(title="long")
    with_entries(short, 60)
    with_entries(long, 10_000)

    short_page = change_page(admin_client, short)
    with CaptureQueriesContext(connection) as queries:
        long_page = change_page(admin_client, long)

    table = history_table(long_page)
    assert table.count("<tr>") == 51
    assert shown(9999, 10000) in table
    assert shown(9950, 9951) in table
    assert shown(9949, 9950) not in table
    assert "The latest 50 of 10000 changes." in long_page.content.decode()
    # The page reads the 50 entries it shows, not the whole history: its size does not grow with the history.
    assert len(long_page.content) < 1.2 * len(short_page.content)
    assert not [query["sql"] for query in queries.captured_queries if WHOLE_HISTORY.search(query["sql"])]


def test_the_full_history_is_paginated_newest_first(admin_client):
    document = DocumentFactory.create(title="a")
    with_entries(document, 250)
    url = reverse("admin:testapp_document_audit_trail", args=[document.pk])

    with CaptureQueriesContext(connection) as queries:
        first = admin_client.get(url)
    # Read before the next request: Django clears the connection's query log when a request starts.
    lengths_read = sum("array_length" in query["sql"] for query in queries.captured_queries)
    last = admin_client.get(url + "?page=3")

    assert first.status_code == last.status_code == 200
    assert "250 changes, newest first." in first.content.decode()
    assert history_table(first).count("<tr>") == 101
    assert shown(249, 250) in history_table(first)
    assert history_table(last).count("<tr>") == 51
    assert shown(0, 1) in history_table(last)
    assert "Page 3 of 3" in last.content.decode()
    assert lengths_read == 1  # the history's length is read once, then only the page's entries


def test_the_full_history_needs_view_permission(client):
    document = DocumentFactory.create()
    client.force_login(UserFactory.create(is_staff=True))

    response = client.get(reverse("admin:testapp_document_audit_trail", args=[document.pk]))

    assert response.status_code == 403


def test_editing_through_the_admin_records_the_admin_user_and_only_the_real_changes(admin_client, admin_user):
    document = DocumentFactory.create(title="before")
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
    alive, deleted = NoteFactory.create(), NoteFactory.create()
    deleted.delete()

    assert changelist_pks(admin_client, Note) == {alive.pk}
    assert changelist_pks(admin_client, Note, "?deleted=yes") == {deleted.pk}
    assert changelist_pks(admin_client, Note, "?deleted=all") == {alive.pk, deleted.pk}


def test_a_deleted_row_can_be_opened_and_restored_and_the_restore_is_logged(admin_client, admin_user):
    note = NoteFactory.create()
    note.delete()

    change_page(admin_client, note)
    response = run_action(admin_client, Note, "restore", [note], query="?deleted=yes")

    assert messages_of(response) == ["Restored 1 note."]
    assert [entry["action"] for entry in Note.objects.get(pk=note.pk).history] == ["create", "delete", "restore"]
    log = LogEntry.objects.get(object_id=str(note.pk), action_flag=CHANGE)
    assert (log.user, log.get_change_message()) == (admin_user, "Restored.")


def test_the_delete_action_confirms_what_will_be_marked_deleted_and_that_it_can_be_restored(admin_client):
    folder = Folder.objects.create(name="reports")
    page = Page.objects.create(folder=folder, title="q1")

    confirmation = run_action(admin_client, Folder, "delete_selected", [folder])

    html = confirmation.content.decode()
    assert "will be marked deleted" in html
    assert "can be restored" in html
    assert "will be deleted" not in html
    assert f'Page: <a href="{reverse("admin:testapp_page_change", args=[page.pk])}">q1</a>' in html
    assert Folder.objects.exists()  # nothing happens before the confirmation

    run_action(admin_client, Folder, "delete_selected", [folder], post="yes")

    assert Folder.all_objects.get(pk=folder.pk).is_deleted
    assert Page.all_objects.get(pk=page.pk).is_deleted


def test_the_delete_page_lists_the_cascade_and_says_it_can_be_restored(admin_client):
    folder = Folder.objects.create(name="reports")
    Page.objects.create(folder=folder, title="q1")
    url = reverse("admin:testapp_folder_delete", args=[folder.pk])

    html = admin_client.get(url).content.decode()
    assert "will be marked deleted" in html
    assert "will be deleted" not in html
    assert "Pages: 1" in html

    admin_client.post(url, {"post": "yes"})
    assert Folder.all_objects.get(pk=folder.pk).is_deleted


def test_a_protected_row_is_refused_on_the_delete_page(admin_client):
    folder = Folder.objects.create(name="kept")
    Retention.objects.create(folder=folder)

    html = admin_client.get(reverse("admin:testapp_folder_delete", args=[folder.pk])).content.decode()

    assert "would require deleting the following protected related objects" in html
    assert "Yes, I’m sure" not in html  # noqa: RUF001 - the admin's own wording


def test_actions_are_labelled_even_when_the_admin_names_its_own(admin_client):
    Page.objects.create(folder=Folder.objects.create(name="f"), title="p")

    changelist = admin_client.get(reverse("admin:testapp_page_changelist"))
    choices = dict(changelist.context["action_form"].fields["action"].choices)

    assert choices["delete_selected"] == "Delete selected pages (can be restored)"
    assert choices["restore"] == "Restore selected pages"
    assert choices["mark_seen"] == "Mark seen"


def test_adding_a_value_held_by_a_deleted_row_is_a_form_error_not_a_server_error(admin_client):
    Handle.objects.create(name="alice").delete()

    response = admin_client.post(reverse("admin:testapp_handle_add"), {"name": "alice"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "name": ["A deleted handle already has this name. Restore it, or choose another value."]
    }


def test_with_a_partial_unique_constraint_a_deleted_rows_value_can_be_reused(admin_client):
    ReusableHandle.objects.create(name="alice").delete()

    response = admin_client.post(reverse("admin:testapp_reusablehandle_add"), {"name": "alice"})

    assert response.status_code == 302
    assert ReusableHandle.objects.get().name == "alice"


def test_a_child_of_a_deleted_parent_can_be_edited_in_the_admin(admin_client):
    folder = Folder.objects.create(name="f")
    page = Page.objects.create(folder=folder, title="p")
    Folder.all_objects.filter(pk=folder.pk).update(date_deleted=timezone.now())  # the folder alone

    response = admin_client.post(
        reverse("admin:testapp_page_change", args=[page.pk]), {"folder": folder.pk, "parent": "", "title": "renamed"}
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Page.objects.get(pk=page.pk).title == "renamed"
