"""obj.history.revert_to(point, fields=None): the row saved back to an earlier point in one transaction, recorded as a
"revert" entry naming the point; every refusal is one error and writes nothing."""

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.core.current_user import acting_as

from ..factories import DocumentFactory, NoteFactory
from ..testapp.models import Document, Handle, Note
from ..utils import change, stored_history, write_history

pytestmark = pytest.mark.django_db


def _edited(**values):
    """A document created with title "a" and views 1, then changed to `values` (one save)."""
    document = DocumentFactory.create(title="a", views=1)
    for name, value in values.items():
        setattr(document, name, value)
    document.save()
    return Document.objects.get(pk=document.pk)


def test_revert_to_an_entry_index_puts_every_field_back_and_says_so(user):
    document = _edited(title="b", views=2)

    with acting_as(user):
        reverted = document.history.revert_to(0)

    assert (reverted.title, reverted.views) == ("a", 1)
    assert (document.title, document.views) == ("a", 1)  # the live instance is refreshed
    last = stored_history(document)[-1]
    assert last["action"] == "revert"
    assert last["by"] == user.pk
    assert last["changes"] == {"title": change("b", "a"), "views": change(2, 1)}
    assert last["reverted_to"] == {"at": stored_history(document)[0]["at"], "index": 0}


def test_revert_to_a_moment_and_only_the_named_fields():
    document = DocumentFactory.create(title="a", views=1)
    then = timezone.now()
    document.title, document.views = "b", 2
    document.save()

    Document.objects.get(pk=document.pk).history.revert_to(then, fields=["views"])

    document.refresh_from_db()
    assert (document.title, document.views) == ("b", 1)
    assert stored_history(document)[-1]["changes"] == {"views": change(2, 1)}


def test_reverting_to_the_current_state_records_nothing():
    document = _edited(title="b")

    document.history.revert_to(-1)

    assert len(stored_history(document)) == 2


def test_a_field_that_is_not_tracked_and_editable_is_refused_and_nothing_is_written():
    document = _edited(title="b")

    for name in ("no_such_field", "api_token", "created_at"):
        with pytest.raises(ValueError, match=f"Cannot revert '{name}' of testapp.Document"):
            document.history.revert_to(0, fields=[name, "title"])

    assert Document.objects.get(pk=document.pk).title == "b"
    assert len(stored_history(document)) == 2


def test_a_value_that_no_longer_validates_is_refused_and_nothing_is_written():
    document = _edited(title="b")
    # An old entry holding a title longer than the field now allows (the field was shortened since).
    history = stored_history(document)
    history[0]["changes"]["title"]["new"] = "x" * 300
    write_history(document, history)

    with pytest.raises(ValidationError) as refused:
        Document.objects.get(pk=document.pk).history.revert_to(0)

    assert "title" in refused.value.message_dict
    assert Document.objects.get(pk=document.pk).title == "b"
    assert len(stored_history(document)) == 2


def test_a_unique_clash_is_refused_and_nothing_is_written():
    handle = Handle.objects.create(name="alpha")
    handle.name = "beta"
    handle.save()
    Handle.objects.create(name="alpha")

    with pytest.raises(ValidationError, match="already exists"):
        Handle.objects.get(pk=handle.pk).history.revert_to(0)

    assert Handle.objects.get(pk=handle.pk).name == "beta"


def test_a_point_before_the_row_existed_is_refused():
    before = timezone.now()
    document = _edited(title="b")

    with pytest.raises(ValueError, match="did not exist yet"):
        document.history.revert_to(before)


def test_an_entry_index_out_of_range_names_the_historys_length():
    document = _edited(title="b")

    with pytest.raises(IndexError, match="the history has 2 entries"):
        document.history.revert_to(7)


def test_a_soft_deleted_row_is_reverted_and_stays_deleted():
    note = NoteFactory.create(title="a")
    note.title = "b"
    note.save()
    note.delete()

    Note.all_objects.get(pk=note.pk).history.revert_to(0)

    reverted = Note.all_objects.get(pk=note.pk)
    assert reverted.title == "a"
    assert reverted.is_deleted  # deletion is undone by restore(), not by a revert


def test_fields_the_model_no_longer_has_are_left_out():
    document = _edited(title="b")
    history = stored_history(document)
    history[0]["changes"]["subtitle"] = change(None, "gone")
    write_history(document, history)

    Document.objects.get(pk=document.pk).history.revert_to(0)

    assert Document.objects.get(pk=document.pk).title == "a"


def test_arevert_to_from_async_code():
    document = _edited(title="b")

    async_to_sync(document.history.arevert_to)(0)

    assert Document.objects.get(pk=document.pk).title == "a"
