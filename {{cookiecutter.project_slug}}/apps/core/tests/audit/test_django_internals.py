"""The few Django internals the audit trail relies on (apps/core/django_internals.py) still behave as it expects,
on the installed Django version. A failure here after a Django upgrade points at the one place to adapt."""

import django
import pytest
from django.core.exceptions import FieldError
from django.db import connection, transaction
from django.db.models import Count, QuerySet

from apps.core.audit import django_internals

from ..factories import DocumentFactory
from ..testapp.models import Document

pytestmark = pytest.mark.django_db


def test_the_installed_django_is_a_supported_version():
    assert django.VERSION[:2] in {(5, 2), (6, 1)}


@pytest.mark.django_db(transaction=True)
def test_no_marker_outside_a_transaction():
    assert django_internals.transaction_marker("default") is None


def test_a_marker_dies_with_its_savepoint_and_lives_on_with_its_transaction():
    outer = django_internals.transaction_marker("default")
    try:
        with transaction.atomic():
            inner = django_internals.transaction_marker("default")
            assert inner is not None
            assert outer is not None
            assert inner is not outer
            assert inner.alive
            raise RuntimeError
    except RuntimeError:
        pass

    assert inner is not None
    assert outer is not None
    assert not inner.alive
    assert outer.alive
    assert django_internals.transaction_marker("default") is outer


@pytest.mark.django_db(transaction=True)
def test_a_marker_is_committed_with_its_transaction_and_dead_after_a_rollback():
    with transaction.atomic():
        committed = django_internals.transaction_marker("default")
    assert committed is not None
    try:
        with transaction.atomic():
            rolled_back = django_internals.transaction_marker("default")
            raise RuntimeError
    except RuntimeError:
        pass

    assert rolled_back is not None
    assert committed.committed
    assert committed.alive
    assert not rolled_back.alive


def test_one_marker_is_shared_by_everything_in_the_same_savepoint():
    first = django_internals.transaction_marker("default")
    second = django_internals.transaction_marker("default")

    assert first is second
    hooks = connection.run_on_commit  # (savepoint ids, callback, robust); django-stubs still types it as a pair
    assert sum(callback is first for _sids, callback, _robust in hooks) == 1  # type: ignore[misc]


def test_instances_of_one_batch_are_linked_as_peers():
    for _ in range(3):
        DocumentFactory.create()
    documents = list(Document.objects.all())

    peers = documents[0].__dict__["_history_peers"]
    assert [ref() for ref in peers] == documents
    assert all(document.__dict__["_history_peers"] is peers for document in documents)


def test_iterator_links_each_chunk():
    for _ in range(5):
        DocumentFactory.create()
    documents = list(Document.objects.iterator(chunk_size=2))

    assert [len(document.__dict__.get("_history_peers", [None])) for document in documents] == [2, 2, 2, 2, 1]


def test_check_update_raises_djangos_error_without_a_query(django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(FieldError, match="Aggregate functions are not allowed"):
        django_internals.check_update(Document.objects.all(), {"views": Count("pk")})


def test_defer_in_place_defers_the_queryset_itself():
    DocumentFactory.create()
    queryset: QuerySet[Document] = QuerySet(Document)

    assert django_internals.defer_in_place(queryset, "history") is queryset
    assert queryset.get().get_deferred_fields() == {"history"}


def test_defer_in_place_refuses_what_defer_refuses():
    with pytest.raises(TypeError, match=r"Cannot call defer\(\) after \.values\(\)"):
        django_internals.defer_in_place(QuerySet(Document).values("pk"), "history")
