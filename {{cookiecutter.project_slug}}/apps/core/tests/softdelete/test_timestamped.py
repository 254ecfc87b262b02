"""TimestampedModel: its dates, soft delete and restore (of instances and querysets), hard delete, the managers."""

import pytest

from apps.core.current_user import acting_as

from ..factories import NoteFactory
from ..testapp.models import Note
from ..utils import stored_history

pytestmark = pytest.mark.django_db


def actions(note):
    return [entry["action"] for entry in stored_history(note)]


def test_dates_are_set_on_create_and_date_updated_moves_on_save():
    note = NoteFactory.create()
    assert note.date_added == note.date_updated == note.created_at
    assert note.date_deleted is None

    note.title = "changed"
    note.save()

    note.refresh_from_db()
    assert note.date_updated > note.date_added
    assert note.date_updated == note.updated_at
    assert set(note.history[-1]["changes"]) == {"title"}  # the bookkeeping dates are not diffed


def test_delete_is_soft_and_recorded(user):
    note = NoteFactory.create()
    with acting_as(user):
        result = note.delete()

    assert result == (1, {"testapp.Note": 1})
    assert not Note.objects.filter(pk=note.pk).exists()
    deleted = Note.all_objects.get(pk=note.pk)
    assert deleted.is_deleted
    assert deleted.date_deleted == note.date_deleted
    assert deleted.updated_by == user
    entry = deleted.history[-1]
    assert entry["action"] == "delete"
    assert entry["changes"]["date_deleted"]["old"] is None
    assert note.date_deleted is not None
    assert entry["changes"]["date_deleted"]["new"] == note.date_deleted.isoformat()
    assert entry["by"] == user.pk


def test_deleting_a_deleted_row_does_nothing():
    note = NoteFactory.create()
    note.delete()
    date_deleted = note.date_deleted

    assert note.delete() == (0, {})
    assert Note.all_objects.get(pk=note.pk).date_deleted == date_deleted
    assert actions(note) == ["create", "delete"]


def test_restore_brings_the_row_back_and_is_recorded():
    note = NoteFactory.create()
    note.delete()
    note.restore()

    assert Note.objects.filter(pk=note.pk).exists()
    assert Note.objects.get(pk=note.pk).date_deleted is None
    assert actions(note) == ["create", "delete", "restore"]
    assert stored_history(note)[-1]["changes"]["date_deleted"]["new"] is None


def test_restoring_a_row_that_is_not_deleted_does_nothing():
    note = NoteFactory.create()
    note.restore()

    assert actions(note) == ["create"]


def test_managers_split_rows_by_deletion():
    alive, deleted = NoteFactory.create(), NoteFactory.create()
    deleted.delete()

    assert list(Note.objects.all()) == [alive]
    assert set(Note.all_objects.all()) == {alive, deleted}
    assert list(Note.all_objects.deleted()) == [deleted]
    assert list(Note.all_objects.alive()) == [alive]
    assert list(Note.objects.deleted()) == []  # objects never sees deleted rows


def test_queryset_delete_is_soft_and_recorded_on_each_row(user):
    first, second, kept = NoteFactory.create(title="x"), NoteFactory.create(title="x"), NoteFactory.create(title="y")

    with acting_as(user):
        result = Note.objects.filter(title="x").delete()

    assert result == (2, {"testapp.Note": 2})
    assert list(Note.objects.all()) == [kept]
    assert Note.all_objects.count() == 3
    for note in (first, second):
        note = Note.all_objects.get(pk=note.pk)
        assert note.is_deleted
        assert note.updated_by == user
        assert [entry["action"] for entry in note.history] == ["create", "delete"]
        assert note.date_deleted is not None
        assert note.history[-1]["changes"]["date_deleted"]["new"] == note.date_deleted.isoformat()
    assert actions(kept) == ["create"]


def test_queryset_delete_leaves_already_deleted_rows_alone():
    note = NoteFactory.create()
    note.delete()

    assert Note.all_objects.all().delete() == (0, {})
    assert actions(note) == ["create", "delete"]


def test_queryset_restore():
    first, second = NoteFactory.create(), NoteFactory.create()
    Note.objects.all().delete()

    assert Note.all_objects.all().restore() == 2
    assert Note.objects.count() == 2
    assert actions(first) == actions(second) == ["create", "delete", "restore"]


def test_hard_delete_removes_the_row():
    note = NoteFactory.create()
    note.hard_delete()

    assert not Note.all_objects.filter(pk=note.pk).exists()


def test_queryset_hard_delete_removes_deleted_and_alive_rows():
    NoteFactory.create().delete()
    NoteFactory.create()

    Note.all_objects.all().hard_delete()

    assert Note.all_objects.count() == 0


def test_a_stale_instance_saved_after_a_delete_does_not_revive_the_row():
    note = NoteFactory.create()
    stale = Note.objects.get(pk=note.pk)
    note.delete()

    stale.title = "edited meanwhile"
    stale.save()

    row = Note.all_objects.get(pk=note.pk)
    assert row.is_deleted
    assert row.title == "edited meanwhile"
    assert [entry["action"] for entry in row.history] == ["create", "delete", "update"]


def test_saving_a_changed_date_deleted_is_written():
    note = NoteFactory.create()
    note.delete()
    note = Note.all_objects.get(pk=note.pk)
    note.date_deleted = None
    note.save()

    assert Note.objects.filter(pk=note.pk).exists()
