"""Real parallel workers: threads, each with its own database connection, released together by a barrier.

The same tests run on SQLite (a file database, IMMEDIATE transactions, a busy timeout) and on PostgreSQL, and must
give the same results on both: no lost history entry, each row's true old value recorded, a soft delete
that stays deleted. (Tasks racing for claims: tasks/test_concurrent_claims.py.)
"""

import collections
import itertools

import pytest
from django.db.models import F

from ..factories import DocumentFactory, NoteFactory
from ..testapp.models import Document, Note
from ..utils import run_in_parallel, stored_history

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 8


def test_concurrent_saves_of_one_row_lose_no_history_entry():
    saves_per_worker = 25
    document = DocumentFactory.create(title="start")

    def worker(index, barrier):
        mine = Document.objects.get(pk=document.pk)
        barrier.wait()
        for number in range(saves_per_worker):
            mine.title = f"worker {index} save {number}"
            mine.save()

    run_in_parallel(worker, WORKERS)

    history = stored_history(document)
    assert len(history) == 1 + WORKERS * saves_per_worker == 201
    assert [entry["action"] for entry in history] == ["create"] + ["update"] * WORKERS * saves_per_worker
    written = collections.Counter(entry["changes"]["title"]["new"].rsplit(" save ", 1)[0] for entry in history[1:])
    assert written == {f"worker {index}": saves_per_worker for index in range(WORKERS)}
    # Each worker's own saves appear in the order it made them.
    for index in range(WORKERS):
        mine = [
            entry["changes"]["title"]["new"]
            for entry in history
            if entry["changes"]["title"]["new"].startswith(f"worker {index} ")
        ]
        assert mine == [f"worker {index} save {number}" for number in range(saves_per_worker)]


@pytest.mark.parametrize("how", ["expression", "value"])
def test_concurrent_queryset_updates_record_each_rows_true_old_value(how):
    """Each queryset update reads the old values of the rows it locked, so the entries form an unbroken chain."""
    updates_per_worker = 10
    document = DocumentFactory.create(title="start", views=0)
    field, start = ("views", 0) if how == "expression" else ("title", "start")

    def worker(index, barrier):
        rows = Document.objects.filter(pk=document.pk)
        barrier.wait()
        for number in range(updates_per_worker):
            if how == "expression":
                rows.update(views=F("views") + 1)
            else:
                rows.update(title=f"worker {index} update {number}")

    run_in_parallel(worker, WORKERS)

    history = stored_history(document)[1:]
    assert len(history) == WORKERS * updates_per_worker
    changes = [entry["changes"][field] for entry in history]
    assert changes[0]["old"] == start
    for earlier, later in itertools.pairwise(changes):
        assert later["old"] == earlier["new"]
    assert getattr(Document.objects.get(pk=document.pk), field) == changes[-1]["new"]
    if how == "expression":
        assert [change["new"] for change in changes] == list(range(1, WORKERS * updates_per_worker + 1))


@pytest.mark.parametrize("how", ["instance", "queryset"])
def test_a_soft_delete_racing_an_update_records_both_and_stays_deleted(how):
    rounds = 10
    for round_number in range(rounds):
        note = NoteFactory.create(title="before")

        def worker(index, barrier, note=note, round_number=round_number):
            mine = Note.objects.get(pk=note.pk)
            barrier.wait()
            if index == 0:
                if how == "instance":
                    mine.delete()
                else:
                    Note.objects.filter(pk=note.pk).delete()
            else:
                mine.title = f"edited in round {round_number}"
                mine.save()

        run_in_parallel(worker, 2)

        row = Note.all_objects.get(pk=note.pk)
        actions = [entry["action"] for entry in row.history]
        assert actions[0] == "create"
        assert sorted(actions[1:]) == ["delete", "update"]
        assert row.is_deleted
        assert row.title == f"edited in round {round_number}"
        assert not Note.objects.filter(pk=note.pk).exists()
