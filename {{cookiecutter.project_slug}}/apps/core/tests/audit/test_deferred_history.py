"""Rows are loaded without their history; reading it works wherever Django or a service reads it, without traps."""

import copy
import io
import json
import pickle

import pytest
from asgiref.sync import async_to_sync
from django.core import serializers
from django.core.management import call_command

from ..factories import DocumentFactory, NoteFactory
from ..testapp.models import Document, Note
from ..utils import change, stored_history

pytestmark = pytest.mark.django_db


def test_rows_are_loaded_without_their_history_and_read_it_on_first_access(django_assert_num_queries):
    DocumentFactory.create(title="a")
    with django_assert_num_queries(1):
        document = Document.objects.get()
    with django_assert_num_queries(1):
        assert [entry["action"] for entry in document.history] == ["create"]
    with django_assert_num_queries(0):
        assert document.history[0]["changes"]["title"] == change(None, "a")


def test_reading_the_history_of_many_rows_costs_one_query_per_batch(django_assert_num_queries):
    for index in range(30):
        DocumentFactory.create(title=str(index))
    documents = list(Document.objects.order_by("pk"))

    with django_assert_num_queries(1):
        assert all(len(document.history) == 1 for document in documents)


def test_dumpdata_writes_every_history_with_one_query_per_batch(django_assert_max_num_queries):
    for index in range(30):
        NoteFactory.create(title=str(index)).delete()
    out = io.StringIO()

    with django_assert_max_num_queries(4):
        call_command("dumpdata", "testapp.note", stdout=out)

    rows = json.loads(out.getvalue())
    assert len(rows) == 30  # soft-deleted rows included: the default manager sees every row
    assert all([entry["action"] for entry in row["fields"]["history"]] == ["create", "delete"] for row in rows)


def test_serializing_a_queryset_includes_the_history():
    DocumentFactory.create(title="a")
    (row,) = json.loads(serializers.serialize("json", Document.objects.all()))

    assert row["fields"]["history"][0]["changes"]["title"] == change(None, "a")


def test_loaddata_of_a_dump_keeps_each_rows_history(tmp_path):
    note = NoteFactory.create(title="a")
    note.title = "b"
    note.save()
    dump = tmp_path / "notes.json"
    call_command("dumpdata", "testapp.note", output=str(dump))
    Note.all_objects.all().hard_delete()

    call_command("loaddata", str(dump), verbosity=0)

    assert [entry["action"] for entry in Note.objects.get(pk=note.pk).history] == ["create", "update"]


def test_async_code_reads_the_history_with_ahistory():
    document = Document.objects.get(pk=DocumentFactory.create(title="a").pk)

    history = async_to_sync(document.ahistory)()

    assert [entry["action"] for entry in history] == ["create"]


def test_refresh_from_db_reloads_what_changed_elsewhere_and_the_next_save_diffs_against_it():
    document = Document.objects.get(pk=DocumentFactory.create(title="a").pk)
    Document.objects.filter(pk=document.pk).update(title="b")
    assert len(document.history) == 2

    document.refresh_from_db()
    document.title = "c"
    document.save()

    assert [entry["action"] for entry in document.history] == ["create", "update", "update"]
    assert document.history[-1]["changes"] == {"title": change("b", "c")}


def test_a_pickled_or_copied_instance_keeps_its_snapshot():
    document = Document.objects.get(pk=DocumentFactory.create(title="a").pk)
    pickled = pickle.loads(pickle.dumps(document))  # noqa: S301 - our own instance, as a cache would hold it
    for twin in (pickled, copy.copy(document), copy.deepcopy(document)):
        twin.title = "a"
        twin.save()
    assert len(stored_history(document)) == 1

    twin = pickle.loads(pickle.dumps(document))  # noqa: S301
    twin.title = "z"
    twin.save()
    assert stored_history(document)[-1]["changes"] == {"title": change("a", "z")}
