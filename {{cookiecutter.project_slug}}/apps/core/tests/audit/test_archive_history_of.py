"""MyModel.history_of(pk): the whole history of a row, alive or deleted, archive and row as one lazy sequence read a
page at a time."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.audit import sequence
from apps.core.models import ArchivedHistory

from ..archiveapp.models import Document, Gauge, Note

pytestmark = pytest.mark.django_db


def actions(history):
    return [entry["action"] for entry in history]


def test_an_alive_row_reads_its_own_history():
    note = Note.objects.create(title="a")
    note.title = "b"
    note.save()

    history = Note.history_of(note.pk)

    assert len(history) == 2
    assert actions(history) == ["create", "update"]
    assert history[-1]["changes"]["title"] == {"old": "a", "new": "b"}
    assert history.model is Note
    assert history.pk == note.pk
    assert history.instance == note


def test_a_soft_deleted_row_and_a_row_deleted_for_real_keep_their_history():
    document = Document.objects.create(title="d")
    pk = document.pk
    document.delete()
    assert actions(Document.history_of(pk)) == ["create", "delete"]

    Document.all_objects.get(pk=pk).hard_delete()

    history = Document.history_of(pk)
    assert actions(history) == ["create", "delete", "delete"]
    assert history.instance is None


def test_a_key_given_as_text_finds_the_row():
    note = Note.objects.create(title="a")
    assert len(Note.history_of(str(note.pk))) == 1


def test_an_unknown_key_has_an_empty_history():
    assert len(Note.history_of(12345)) == 0
    assert list(Note.history_of(12345)) == []


def test_archive_and_row_read_as_one_history_in_order():
    gauge = Gauge.objects.create()
    for reading in range(1, 40):
        gauge.reading = reading
        gauge.save()

    history = Gauge.history_of(gauge.pk)

    assert ArchivedHistory.objects.filter(deleted=False).exists()
    assert len(gauge.history) < 40
    assert len(history) == 40
    assert [entry["changes"]["reading"]["new"] for entry in history] == list(range(40))
    assert history[0]["action"] == "create"
    assert history[-1] == gauge.history[-1]
    assert [entry["changes"]["reading"]["new"] for entry in history[5:30:5]] == [5, 10, 15, 20, 25]
    assert [entry["changes"]["reading"]["new"] for entry in history[::-10]] == [39, 29, 19, 9]
    assert history[-40]["action"] == "create"
    with pytest.raises(IndexError):
        history[40]
    with pytest.raises(TypeError):
        history["0"]  # type: ignore[call-overload]  # the wrong type, on purpose


def test_nothing_is_read_until_used_and_then_a_page_at_a_time(monkeypatch):
    monkeypatch.setattr(sequence, "PAGE_SIZE", 5)
    gauge = Gauge.objects.create()
    for reading in range(1, 40):
        gauge.reading = reading
        gauge.save()

    with CaptureQueriesContext(connection) as queries:
        history = Gauge.history_of(gauge.pk)
    assert len(queries) == 0

    with CaptureQueriesContext(connection) as queries:
        last = history[-1]
    # The sizes of the parts (archive, row), then the one page holding the last entry.
    assert len(queries) == 3
    assert last["changes"]["reading"]["new"] == 39

    with CaptureQueriesContext(connection) as queries:
        assert history[-2]["changes"]["reading"]["new"] == 38
    assert len(queries) == 0  # the same page


def test_iteration_reads_page_by_page(monkeypatch):
    monkeypatch.setattr(sequence, "PAGE_SIZE", 4)
    note = Note.objects.create(title="0")
    for n in range(1, 10):
        note.title = str(n)
        note.save()
    history = Note.history_of(note.pk)
    len(history)

    with CaptureQueriesContext(connection) as queries:
        titles = [entry["changes"]["title"]["new"] for entry in history]

    assert titles == [str(n) for n in range(10)]
    assert len(queries) == 3  # 10 entries, 4 a page


def test_obj_history_stays_the_in_row_part():
    gauge = Gauge.objects.create()
    for reading in range(1, 30):
        gauge.reading = reading
        gauge.save()

    gauge = Gauge.objects.get(pk=gauge.pk)

    in_row = gauge.history
    assert in_row[0]["action"] != "create"
    whole = list(Gauge.history_of(gauge.pk))
    assert whole[-len(in_row) :] == list(in_row)


def test_the_reading_methods_work_over_the_archived_part():
    gauge = Gauge.objects.create(reading=0)
    moments = []
    for reading in range(1, 30):
        gauge.reading = reading
        gauge.save()
        moments.append(timezone.now())
    history = Gauge.history_of(gauge.pk)
    assert ArchivedHistory.objects.filter(object_pk=str(gauge.pk)).exists()

    then = history.as_of(moments[2])
    assert isinstance(then, Gauge)
    assert then.reading == 3  # an entry long moved to the archive
    assert history.diff(0, -1) == {"reading": {"old": 0, "new": 29}}
    assert [values["reading"] for _entry, values in history.versions()] == list(range(30))


def test_a_deleted_row_reads_as_it_was():
    note = Note.objects.create(title="kept in the archive")
    pk = note.pk
    note.delete()

    history = Note.history_of(pk)

    assert history.instance is None
    last = history.as_of(timezone.now())
    assert isinstance(last, Note)
    assert last.title == "kept in the archive"
