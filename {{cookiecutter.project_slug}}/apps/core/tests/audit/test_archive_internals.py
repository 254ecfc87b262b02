"""What the archive relies on in Django's deletion Collector (audit/django_internals.py, before_collector_delete),
on the installed Django version: every delete path ends in Collector.delete(), whose `data` (instances by model) and
`fast_deletes` (querysets) hold every row about to go; a delete with nothing audited runs exactly as Django's."""

import inspect

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import deletion
from django.test.utils import CaptureQueriesContext

from apps.core.audit import django_internals

from ..archiveapp.models import Author, Book, Gauge, Note

pytestmark = pytest.mark.django_db


def collected(queryset):
    collector = deletion.Collector(using="default", origin=queryset)
    collector.collect(queryset)
    return collector


def test_the_collector_is_wrapped_once():
    wrapped = deletion.Collector.delete
    django_internals.before_collector_delete(lambda collector: True, lambda collector: None)
    assert deletion.Collector.delete is wrapped
    assert getattr(wrapped, "_runs_first", None) is not None


def test_a_fast_delete_is_a_queryset_of_the_rows():
    Gauge.objects.create()

    collector = collected(Gauge.objects.all())

    assert not any(collector.data.values())
    assert [queryset.model for queryset in collector.fast_deletes] == [Gauge]
    assert hasattr(collector.fast_deletes[0], "_raw_delete")


def test_collected_rows_are_instances_by_model_and_cascades_join_them():
    author = Author.objects.create(name="a")
    Book.objects.create(author=author, title="b")

    collector = collected(Author.objects.all())

    assert {model for model, instances in collector.data.items() if instances} >= {Author}
    assert collector.using == "default"
    assert isinstance(collector.origin, type(Author.objects.all()))
    books = [queryset for queryset in collector.fast_deletes if queryset.model is Book]
    assert books or Book in collector.data


@pytest.mark.django_db(transaction=True)
def test_a_delete_with_nothing_audited_runs_exactly_as_djangos(monkeypatch):
    first, second = Group.objects.create(name="a"), Group.objects.create(name="b")

    with CaptureQueriesContext(connection) as wrapped:
        first.delete()
    monkeypatch.setattr(deletion.Collector, "delete", inspect.unwrap(deletion.Collector.delete))
    with CaptureQueriesContext(connection) as plain:
        second.delete()

    def kinds(queries):
        return [query["sql"].split()[0] for query in queries]

    assert kinds(wrapped) == kinds(plain)
    assert "archivedhistory" not in str(wrapped.captured_queries).lower()


@pytest.mark.django_db(transaction=True)
def test_an_audited_delete_outside_a_transaction_is_atomic_with_its_archive():
    note = Note.objects.create(title="n")

    with CaptureQueriesContext(connection) as queries:
        note.delete()

    assert not connection.in_atomic_block
    sql = [query["sql"] for query in queries]
    assert any(statement.startswith("INSERT") for statement in sql)
    assert any(statement.startswith("DELETE") for statement in sql)
    with transaction.atomic():
        assert not Note.objects.filter(pk=note.pk).exists()
