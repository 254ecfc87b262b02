"""The admin's delete paths archive, and its "Deleted rows" pages list deleted rows, show one (last values, who and
when, history) and recover it: each behind the model's permissions."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from apps.core.models import ArchivedHistory

from ..archiveapp.models import Country, Document, Note
from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def staff_with(*codenames):
    user = UserFactory.create(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="archiveapp", codename__in=codenames))
    return user


def deleted(title="gone", **values):
    note = Note.objects.create(title=title, **values)
    pk = note.pk
    note.delete()
    return pk, ArchivedHistory.objects.get(object_pk=str(pk), model_label="archiveapp.note")


def test_the_admin_delete_and_its_bulk_action_archive(admin_client):
    one, two, three = (Note.objects.create(title=t) for t in ("one", "two", "three"))

    response = admin_client.post(reverse("admin:archiveapp_note_delete", args=[one.pk]), {"post": "yes"})
    assert response.status_code == 302
    response = admin_client.post(
        reverse("admin:archiveapp_note_changelist"),
        {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"},
    )
    assert response.status_code == 302

    assert sorted(r.object_repr for r in ArchivedHistory.objects.all()) == ["note one", "note three", "note two"]


def test_a_timestamped_model_deleted_in_the_admin_is_soft_deleted_not_archived(admin_client):
    document = Document.objects.create(title="d")

    admin_client.post(reverse("admin:archiveapp_document_delete", args=[document.pk]), {"post": "yes"})

    assert Document.all_objects.get(pk=document.pk).is_deleted
    assert not ArchivedHistory.objects.exists()


def test_the_change_list_links_to_the_deleted_rows(admin_client):
    response = admin_client.get(reverse("admin:archiveapp_note_changelist"))
    assert reverse("admin:archiveapp_note_deleted_rows") in response.content.decode()


def test_deleted_rows_are_listed_newest_first_with_who_and_when(admin_client, admin_user):
    admin_client.post(
        reverse("admin:archiveapp_note_delete", args=[Note.objects.create(title="older").pk]), {"post": "yes"}
    )
    deleted("newer")

    response = admin_client.get(reverse("admin:archiveapp_note_deleted_rows"))

    html = response.content.decode()
    assert response.status_code == 200
    table = html[html.index('id="deleted-rows"') :]
    assert table.index("note newer") < table.index("note older")
    assert admin_user.get_username() in html
    assert "2 rows deleted for real" in html


def test_a_deleted_row_shows_its_last_values_and_history(admin_client):
    note = Note.objects.create(title="first", body="text")
    note.title = "second"
    note.save()
    pk = note.pk
    note.delete()
    record = ArchivedHistory.objects.get()

    response = admin_client.get(reverse("admin:archiveapp_note_deleted_row", args=[record.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "second" in html
    assert "text" in html
    assert "3 changes, newest first." in html
    assert f"Key {pk}" in html
    assert 'name="recover"' in html


def test_recover_creates_the_row_again_and_its_history_continues(admin_client, admin_user):
    pk, record = deleted("back", body="b")

    response = admin_client.post(reverse("admin:archiveapp_note_deleted_row", args=[record.pk]), {"recover": "1"})

    assert response.status_code == 302
    note = Note.objects.get(pk=pk)
    assert (note.title, note.body) == ("back", "b")
    assert [entry["action"] for entry in note.history] == ["recover"]
    assert note.history[0]["by"] == admin_user.pk
    assert [entry["action"] for entry in Note.history_of(pk)] == ["create", "delete", "recover"]
    # Recovered: the row is back, and the page no longer offers to recover it.
    page = admin_client.get(reverse("admin:archiveapp_note_deleted_row", args=[record.pk])).content.decode()
    assert 'name="recover"' not in page


def test_a_string_key_is_recovered():
    country = Country.objects.create(code="fr", name="France")
    country.delete()
    record = ArchivedHistory.objects.get()

    from apps.core.audit.recovery import recover

    recover(record, Country)

    assert Country.objects.get(code="fr").name == "France"


def test_a_recover_that_clashes_on_a_unique_value_is_a_form_error_and_creates_nothing(admin_client):
    pk, record = deleted("taken")
    Note.objects.create(title="taken")

    response = admin_client.post(reverse("admin:archiveapp_note_deleted_row", args=[record.pk]), {"recover": "1"})

    assert response.status_code == 400
    assert "Note with this Title already exists." in response.content.decode()
    assert not Note.objects.filter(pk=pk).exists()


def test_recovering_twice_is_refused(admin_client):
    pk, record = deleted()
    url = reverse("admin:archiveapp_note_deleted_row", args=[record.pk])
    admin_client.post(url, {"recover": "1"})

    response = admin_client.post(url, {"recover": "1"})

    assert response.status_code == 400
    assert Note.objects.filter(pk=pk).count() == 1


def test_the_deleted_rows_need_view_permission(client):
    _pk, record = deleted()
    client.force_login(staff_with())

    assert client.get(reverse("admin:archiveapp_note_deleted_rows")).status_code == 403
    assert client.get(reverse("admin:archiveapp_note_deleted_row", args=[record.pk])).status_code == 403


def test_viewing_is_allowed_but_recovering_needs_the_add_permission(client):
    pk, record = deleted()
    client.force_login(staff_with("view_note"))
    url = reverse("admin:archiveapp_note_deleted_row", args=[record.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert 'name="recover"' not in page.content.decode()
    assert client.post(url, {"recover": "1"}).status_code == 403
    assert not Note.objects.filter(pk=pk).exists()

    client.force_login(staff_with("view_note", "add_note"))
    assert client.post(url, {"recover": "1"}).status_code == 302
    assert Note.objects.filter(pk=pk).exists()


def test_a_record_of_another_model_is_not_found_here(admin_client):
    country = Country.objects.create(code="de", name="Germany")
    country.delete()
    record = ArchivedHistory.objects.get()

    assert admin_client.get(reverse("admin:archiveapp_note_deleted_row", args=[record.pk])).status_code == 404


def test_the_change_page_and_the_full_history_read_the_archive_too(admin_client, settings):
    settings.AUDIT_HISTORY_ROW_LIMIT = 10
    note = Note.objects.create(title="0")
    for n in range(1, 40):
        note.title = str(n)
        note.save()
    assert len(Note.objects.get(pk=note.pk).history) <= 10

    change = admin_client.get(reverse("admin:archiveapp_note_change", args=[note.pk])).content.decode()
    full = admin_client.get(reverse("admin:archiveapp_note_audit_trail", args=[note.pk])).content.decode()

    assert "40 changes, newest first." in full
    for page in (change, full):  # the "create" entry has long moved to the archive; the pages still show it
        table = page[page.index('class="audit-history"') :]
        assert table.count("<td>Created") == 1
        assert table.count("<td>Changed") == 39
