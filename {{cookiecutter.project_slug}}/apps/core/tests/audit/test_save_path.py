"""The audit trail is as dependable as Model.save(): rollbacks, retries, re-entrant saves, copies, natural keys,
rows deleted elsewhere, and a connection lost in the middle of a save."""

import pytest
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models.signals import post_save, pre_save

from ..factories import DocumentFactory, NoteFactory
from ..testapp.models import Coded, Document, Memo, Note
from ..utils import change, stored_history

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    """Raised inside a transaction to roll it back."""


def rolled_back(write):
    """Run `write` in a transaction, then roll the transaction back."""
    try:
        with transaction.atomic():
            write()
            raise Rollback
    except Rollback:
        pass


def test_a_rolled_back_save_is_written_and_recorded_once_when_retried():
    document = Document.objects.get(pk=DocumentFactory.create(title="a").pk)
    document.title = "b"
    rolled_back(document.save)

    assert stored_history(document)[-1]["action"] == "create"
    document.save()

    assert Document.objects.get(pk=document.pk).title == "b"
    assert [entry["action"] for entry in stored_history(document)] == ["create", "update"]
    assert stored_history(document)[-1]["changes"] == {"title": change("a", "b")}


def test_a_save_rolled_back_with_its_savepoint_is_retried_in_the_same_transaction():
    document = Document.objects.get(pk=DocumentFactory.create(title="a").pk)
    with transaction.atomic():
        document.title = "b"
        rolled_back(document.save)
        document.save()

    assert [entry["changes"] for entry in stored_history(document)[1:]] == [{"title": change("a", "b")}]


def test_a_rolled_back_create_is_retried_as_one_create():
    document = Document(title="new")
    rolled_back(document.save)

    assert not Document.objects.filter(title="new").exists()
    document.save()

    history = stored_history(document)
    assert [entry["action"] for entry in history] == ["create"]
    assert history[0]["changes"]["title"] == change(None, "new")


def test_the_in_memory_history_never_shows_a_rolled_back_entry():
    document = DocumentFactory.create(title="a")
    assert len(document.history) == 1

    def change_and_read():
        document.title = "b"
        document.save()
        assert [entry["action"] for entry in document.history] == ["create", "update"]

    rolled_back(change_and_read)

    assert [entry["action"] for entry in document.history] == ["create"]


def test_a_multi_table_child_whose_insert_fails_records_one_create_when_retried():
    Memo.objects.create(title="first", code="taken")
    memo = Memo(title="second", code="taken")
    with pytest.raises(IntegrityError), transaction.atomic():
        memo.save()

    memo.code = "free"
    memo.save()

    history = stored_history(Memo.objects.get(code="free"))
    assert [entry["action"] for entry in history] == ["create"]
    assert history[0]["changes"]["title"] == change(None, "second")


def test_a_rolled_back_soft_delete_is_done_and_recorded_once_when_retried():
    note = Note.objects.get(pk=NoteFactory.create().pk)
    rolled_back(note.delete)

    assert Note.objects.filter(pk=note.pk).exists()
    assert note.delete() == (1, {"testapp.Note": 1})

    assert [entry["action"] for entry in stored_history(note)] == ["create", "delete"]


def test_a_rolled_back_restore_is_done_and_recorded_once_when_retried():
    note = NoteFactory.create()
    note.delete()
    rolled_back(note.restore)

    assert not Note.objects.filter(pk=note.pk).exists()
    assert note.restore() == 1

    assert [entry["action"] for entry in stored_history(note)] == ["create", "delete", "restore"]


def test_a_post_save_receiver_can_save_the_same_instance_again():
    def stamp_views(sender, instance, update_fields, **kwargs):
        if update_fields is None:  # the outer save only
            instance.views += 1
            instance.save(update_fields=["views"])

    post_save.connect(stamp_views, sender=Document)
    try:
        document = DocumentFactory.create(views=0)
        document.title = "renamed"
        document.save()
    finally:
        post_save.disconnect(stamp_views, sender=Document)

    history = stored_history(document)
    assert [entry["action"] for entry in history] == ["create", "update", "update", "update"]
    assert history[1]["changes"] == {"views": change(0, 1)}
    assert history[2]["changes"] == {"title": change(history[0]["changes"]["title"]["new"], "renamed")}
    assert history[3]["changes"] == {"views": change(1, 2)}
    assert Document.objects.get(pk=document.pk).views == 2


def test_saves_of_other_instances_from_signal_receivers_are_recorded():
    def mirror(sender, instance, **kwargs):
        if instance.title.startswith("mirror of"):
            return
        Note.objects.create(title=f"mirror of {instance.title}")

    pre_save.connect(mirror, sender=Document)
    post_save.connect(mirror, sender=Document)
    try:
        DocumentFactory.create(title="x")
    finally:
        pre_save.disconnect(mirror, sender=Document)
        post_save.disconnect(mirror, sender=Document)

    mirrors = Note.objects.filter(title="mirror of x")
    assert mirrors.count() == 2
    assert all([entry["action"] for entry in note.history] == ["create"] for note in mirrors)


def test_a_value_set_by_a_pre_save_receiver_is_written_and_recorded():
    def shout(sender, instance, **kwargs):
        instance.title = instance.title.upper()

    document = Document.objects.get(pk=DocumentFactory.create(title="quiet").pk)
    pre_save.connect(shout, sender=Document)
    try:
        document.save()
    finally:
        pre_save.disconnect(shout, sender=Document)

    assert Document.objects.get(pk=document.pk).title == "QUIET"
    assert stored_history(document)[-1]["changes"] == {"title": change("quiet", "QUIET")}


def test_a_copy_is_a_new_row_with_a_history_of_its_own(user):
    from apps.core.current_user import acting_as

    original = DocumentFactory.create(title="original")
    original.title = "edited"
    original.save()
    copy = Document.objects.get(pk=original.pk)
    copy.pk = None
    copy._state.adding = True
    with acting_as(user):
        copy.save()

    assert copy.pk != original.pk
    history = stored_history(copy)
    assert [entry["action"] for entry in history] == ["create"]
    assert history[0]["changes"]["title"] == change(None, "edited")
    assert copy.created_by == user
    assert [entry["action"] for entry in stored_history(original)] == ["create", "update"]


def test_changing_a_natural_primary_key_saves_a_new_row_as_django_does():
    coded = Coded.objects.create(code="A1", name="alpha")
    coded.name = "renamed"
    coded.save()
    coded.code = "B2"
    coded.save()

    assert set(Coded.objects.values_list("code", flat=True)) == {"A1", "B2"}
    assert [entry["action"] for entry in stored_history(Coded.objects.get(code="B2"))] == ["create"]
    assert [entry["action"] for entry in stored_history(Coded.objects.get(code="A1"))] == ["create", "update"]


def test_re_saving_a_row_deleted_elsewhere_inserts_it_again_as_django_does():
    document = Document.objects.get(pk=DocumentFactory.create(title="kept").pk)
    Document.objects.filter(pk=document.pk).delete()

    document.save()

    assert Document.objects.filter(pk=document.pk).exists()
    assert [entry["action"] for entry in stored_history(document)] == ["create"]


def test_save_with_update_fields_of_a_row_deleted_elsewhere_fails_as_django_does():
    document = Document.objects.get(pk=DocumentFactory.create().pk)
    Document.objects.filter(pk=document.pk).delete()

    with pytest.raises(DatabaseError, match="did not affect any rows"):
        document.save(update_fields=["title"])


def kill_the_connection(alias="default"):
    """Cut the connection from under Django: the server ends the session (PostgreSQL), or the file handle is closed
    (SQLite). The next statement on it fails, as when a database restarts or a network link drops."""
    victim = connections[alias]
    if victim.vendor == "postgresql":
        killer = connections.create_connection(alias)
        try:
            with killer.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [victim.connection.info.backend_pid])
        finally:
            killer.close()
    else:
        victim.connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_save_whose_connection_is_killed_is_written_and_recorded_once_when_retried():
    document = Document.objects.get(pk=DocumentFactory.create(title="a").pk)
    document.title = "b"

    def kill(sender, instance, **kwargs):
        kill_the_connection()

    pre_save.connect(kill, sender=Document)
    try:
        with pytest.raises(DatabaseError), transaction.atomic():
            document.save()
    finally:
        pre_save.disconnect(kill, sender=Document)
    connections["default"].close()

    document.save()

    assert Document.objects.get(pk=document.pk).title == "b"
    assert [entry["changes"] for entry in stored_history(document)[1:]] == [{"title": change("a", "b")}]
