"""The admin's history pages read: each change as old -> new (JSON pretty-printed, long values folded, unreadable
entries shown as such), filters on the full-history page, "Revert to before this change" (confirmed, permission
checked, logged) and the Activity page (the latest changes across the models the staff user may view)."""

import datetime

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from apps.core.current_user import acting_as

from ..factories import DocumentFactory, NoteFactory, UserFactory
from ..testapp.models import Document, Handle
from ..utils import messages_of, stored_history, write_history

pytestmark = pytest.mark.django_db


def _edited_document(**values):
    document = DocumentFactory.create(title="first", views=1)
    for name, value in values.items():
        setattr(document, name, value)
    document.save()
    return document


def _revert_url(obj, index):
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_revert", args=[obj.pk, index])


def _change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def _staff_with(*codenames):
    user = UserFactory.create(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames, content_type__app_label="testapp"))
    return user


def test_each_change_the_user_may_undo_links_to_its_revert(admin_client, client):
    document = _edited_document(title="second")

    page = admin_client.get(_change_url(document)).content.decode()
    client.force_login(_staff_with("view_document"))
    read_only = client.get(_change_url(document)).content.decode()

    assert page.count("Revert to before this change") == 1  # the update; a creation has no "before"
    assert _revert_url(document, 1) in page
    assert "Revert to before this change" not in read_only


def test_the_revert_page_lists_what_will_change_and_reverting_logs_it(admin_client, admin_user):
    document = _edited_document(title="second", views=2)

    confirmation = admin_client.get(_revert_url(document, 1))
    response = admin_client.post(_revert_url(document, 1), follow=True)

    assert confirmation.status_code == 200
    listed = {
        (change["field"], change["old"]["text"], change["new"]["text"]) for change in confirmation.context["changes"]
    }
    assert listed == {("Title", "second", "first"), ("Views", "2", "1")}
    document.refresh_from_db()
    assert (document.title, document.views) == ("first", 1)
    last = stored_history(document)[-1]
    assert (last["action"], last["by"], last["reverted_to"]["index"]) == ("revert", admin_user.pk, 0)
    log = LogEntry.objects.get(object_id=str(document.pk), action_flag=CHANGE)
    assert log.user == admin_user
    assert log.change_message.startswith("Reverted to before the change of ")
    assert messages_of(response) == ["First was reverted to before that change."]  # named as it is now


def test_reverting_needs_the_change_permission(client):
    document = _edited_document(title="second")
    client.force_login(_staff_with("view_document"))

    assert client.get(_revert_url(document, 1)).status_code == 403
    assert client.post(_revert_url(document, 1)).status_code == 403
    assert Document.objects.get(pk=document.pk).title == "second"


def test_a_refused_revert_says_why_and_changes_nothing(admin_client):
    handle = Handle.objects.create(name="alpha")
    handle.name = "beta"
    handle.save()
    Handle.objects.create(name="alpha")

    response = admin_client.post(_revert_url(handle, 1), follow=True)

    assert any("already exists" in message for message in messages_of(response))
    assert Handle.objects.get(pk=handle.pk).name == "beta"


def test_a_change_that_does_not_exist_is_not_reverted(admin_client):
    document = _edited_document(title="second")

    response = admin_client.post(_revert_url(document, 9), follow=True)

    assert messages_of(response) == ["There is no change 9 to revert."]


def test_json_is_pretty_printed_and_long_values_are_folded(admin_client):
    document = DocumentFactory.create(title="t", data={"a": 1})
    document.data, document.body = {"a": 1, "b": [1, 2]}, "word " * 100
    document.save()

    table = admin_client.get(_change_url(document)).content.decode()

    assert "{\n  &quot;a&quot;: 1,\n  &quot;b&quot;: [\n    1,\n    2\n  ]\n}" in table
    assert '<details class="audit-value"><summary>word word' in table


def test_entries_the_audit_trail_did_not_write_are_shown_as_unreadable(admin_client):
    document = _edited_document(title="second")
    write_history(
        document,
        ["planted by hand", {"at": "2026-01-01T00:00:00+00:00", "changes": "none"}, *stored_history(document)],
    )

    change_page = admin_client.get(_change_url(document))
    full = admin_client.get(reverse("admin:testapp_document_audit_trail", args=[document.pk]))

    assert change_page.status_code == full.status_code == 200
    assert change_page.content.decode().count("Unreadable entry") == 2
    assert "planted by hand" in full.content.decode()


def test_the_full_history_filters_by_user_action_and_dates(admin_client):
    alice, bob = UserFactory.create(), UserFactory.create()
    with acting_as(alice):
        document = DocumentFactory.create(title="a")
    with acting_as(bob):
        document.title = "b"
        document.save()
    url = reverse("admin:testapp_document_audit_trail", args=[document.pk])
    today = timezone.localdate()

    def rows(**query):
        response = admin_client.get(url, query)
        assert response.status_code == 200
        return response.content.decode().split('<table class="audit-history">')[1].count("<tr>") - 1

    assert rows() == 2
    assert rows(user=alice.get_username()) == 1
    assert rows(user=str(bob.pk), action="update") == 1
    assert rows(action="create", user=bob.get_username()) == 0
    assert rows(since=today.isoformat(), until=today.isoformat()) == 2
    assert rows(until=(today - datetime.timedelta(days=1)).isoformat()) == 0
    assert "No user is called nobody." in admin_client.get(url, {"user": "nobody"}).content.decode()


def test_the_activity_page_lists_the_latest_changes_across_models(admin_client):
    alice = UserFactory.create()
    with acting_as(alice):
        document = _edited_document(title="second")
        NoteFactory.create(title="a note")

    page = admin_client.get(reverse("admin-activity"))
    by_model = admin_client.get(reverse("admin-activity"), {"model": "testapp.note"})
    by_user = admin_client.get(reverse("admin-activity"), {"user": alice.get_username()})

    assert page.status_code == 200
    rows = [(row["model"], str(row["action"])) for row in page.context["rows"]]
    assert rows[:3] == [("Note", "Created"), ("Document", "Changed"), ("Document", "Created")]  # newest first
    assert _change_url(document) in page.content.decode()
    assert [row["model"] for row in by_model.context["rows"]] == ["Note"]
    assert len(by_user.context["rows"]) == 3


def test_the_activity_page_shows_only_models_the_user_may_view(client):
    DocumentFactory.create(title="visible")
    NoteFactory.create(title="not for this user")
    client.force_login(_staff_with("view_document"))

    response = client.get(reverse("admin-activity"))

    assert [row["model"] for row in response.context["rows"]] == ["Document"]
    assert "not for this user" not in response.content.decode()
    assert [label for label, _name in response.context["form"].fields["model"].choices][1:] == ["testapp.document"]


def test_the_activity_page_is_for_staff(client):
    response = client.get(reverse("admin-activity"))

    assert response.status_code == 302
    assert "login" in response["Location"]
