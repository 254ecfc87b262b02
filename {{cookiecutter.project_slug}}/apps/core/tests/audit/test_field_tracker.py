"""django-model-utils' FieldTracker on a TrackableModel: the history not yet loaded is deferred as Django sees it, so
"did this row change?" answers no on a fresh load, without a query; saves stay full saves, and one query still
loads the histories of a whole batch."""

import decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ..testapp.models import Order
from ..utils import stored_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    return Order.objects.create(number="A-1", amount=decimal.Decimal("10.00"))


def test_a_loaded_row_has_not_changed_and_asking_costs_no_query(order, django_assert_num_queries):
    with django_assert_num_queries(1):
        loaded = Order.objects.get(pk=order.pk)
    with django_assert_num_queries(0):
        assert loaded.tracker.changed() == {}
        assert not loaded.tracker.has_changed("history")


def test_the_history_not_yet_loaded_is_deferred_to_django(order):
    loaded = Order.objects.get(pk=order.pk)

    assert loaded.get_deferred_fields() == {"history"}
    assert len(loaded.history) == 1  # read when needed
    assert loaded.get_deferred_fields() == set()


def test_changes_are_tracked_and_the_save_records_them(order):
    loaded = Order.objects.get(pk=order.pk)
    loaded.amount = decimal.Decimal("12.50")

    assert loaded.tracker.changed() == {"amount": decimal.Decimal("10.00")}
    loaded.save()

    assert loaded.tracker.changed() == {}
    assert stored_history(order)[-1]["changes"] == {"amount": {"old": "10.00", "new": "12.50"}}


def test_a_save_of_a_row_loaded_without_its_history_is_a_full_save(order):
    loaded = Order.objects.get(pk=order.pk)
    loaded.number = "A-2"

    with CaptureQueriesContext(connection) as queries:
        loaded.save()

    # FieldTracker() tracks every field, the history too, and reads them all once a full save is done: the second
    # query is its own (FieldTracker(fields=[...]) without "history" does without it).
    update, tracker_read = [query["sql"] for query in queries.captured_queries]
    assert update.startswith("UPDATE")
    assert all(column in update for column in ('"number"', '"amount"', '"history"'))
    assert tracker_read.startswith("SELECT")
    assert [entry["action"] for entry in stored_history(order)] == ["create", "update"]


def test_refresh_from_db_of_the_history_alone_loads_it(order):
    loaded = Order.objects.get(pk=order.pk)
    Order.objects.filter(pk=order.pk).update(number="elsewhere")

    loaded.refresh_from_db(fields=["history"])

    assert [entry["action"] for entry in loaded.__dict__["history"]] == ["create", "update"]
    assert loaded.number == "A-1"


def test_one_query_still_loads_the_histories_of_a_batch(django_assert_num_queries):
    Order.objects.bulk_create([Order(number=str(index)) for index in range(20)])
    orders = list(Order.objects.all())

    with django_assert_num_queries(1):
        assert all(len(order.history) == 1 for order in orders)
    with django_assert_num_queries(0):
        assert all(order.tracker.changed() == {} for order in orders)
