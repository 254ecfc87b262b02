"""QuerySet writes behave like Django's, and none of them bypasses the audit trail."""

import pytest
from django.core.exceptions import FieldDoesNotExist, FieldError
from django.db import connection, models, transaction
from django.db.models import Count, F, Value
from django.db.models.functions import Concat
from django.test.utils import CaptureQueriesContext, override_settings

from apps.core.current_user import acting_as

from .factories import CategoryFactory, DocumentFactory
from .testapp.models import Document, Setting
from .utils import change, stored_history

pytestmark = pytest.mark.django_db


def test_update_with_an_annotation_used_in_the_values():
    document = DocumentFactory(title="a", views=1)

    updated = Document.objects.annotate(doubled=F("views") * 2).update(views=F("doubled"))

    assert updated == 1
    assert Document.objects.get(pk=document.pk).views == 2
    assert stored_history(document)[-1]["changes"] == {"views": change(1, 2)}


def test_update_with_an_alias_used_in_the_values():
    document = DocumentFactory(title="a")

    Document.objects.alias(suffixed=Concat(F("title"), Value("!"))).update(title=F("suffixed"))

    assert stored_history(document)[-1]["changes"] == {"title": change("a", "a!")}


def test_update_of_a_distinct_queryset():
    category = CategoryFactory()
    documents = [DocumentFactory(category=category, views=0) for _ in range(2)]

    updated = Document.objects.filter(category__name=category.name).distinct().update(views=5)

    assert updated == 2
    assert all(stored_history(document)[-1]["changes"] == {"views": change(0, 5)} for document in documents)


def test_update_of_a_queryset_grouped_by_an_aggregate_annotation():
    busy, quiet = CategoryFactory(), CategoryFactory()
    busy_documents = [DocumentFactory(category=busy, views=0) for _ in range(2)]
    quiet_document = DocumentFactory(category=quiet, views=0)

    updated = (
        Document.objects.annotate(siblings=Count("category__document"))
        .filter(siblings__gt=1)
        .update(views=F("views") + 1)
    )

    assert updated == 2
    assert all(stored_history(document)[-1]["changes"] == {"views": change(0, 1)} for document in busy_documents)
    assert len(stored_history(quiet_document)) == 1


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"no_such_field": 1}, FieldDoesNotExist),
        ({"views": Count("pk")}, FieldError),
        ({"title": F("category__name")}, FieldError),
    ],
)
def test_invalid_input_raises_djangos_error_before_any_statement_and_leaves_the_transaction_usable(values, error):
    document = DocumentFactory(title="a")
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries, pytest.raises(error):
            Document.objects.filter(pk=document.pk).update(**values)
        assert not queries.captured_queries
        Document.objects.filter(pk=document.pk).update(title="b")  # the transaction goes on

    assert Document.objects.get(pk=document.pk).title == "b"


def test_a_sliced_queryset_cannot_be_updated_as_in_django():
    with pytest.raises(TypeError, match="Cannot update a query once a slice has been taken"):
        Document.objects.all()[:1].update(title="x")


def test_the_history_cannot_be_set_by_an_update():
    with pytest.raises(ValueError, match="history is written by the audit trail"):
        Document.objects.update(history=[])


def test_bulk_update_without_fields_raises_as_django_does():
    document = DocumentFactory()
    with pytest.raises(ValueError, match="Field names must be given to bulk_update"):
        Document.objects.bulk_update([document], [])


class WriteToOther:
    """A router that sends writes to the "other" database alias."""

    def db_for_write(self, model, **hints):
        return "other"


@pytest.mark.django_db(databases=["default", "other"])
def test_bulk_update_writes_through_the_routers_write_database(settings):
    document = DocumentFactory(title="a")
    document.save(using="other", force_insert=True)
    document.title = "b"
    with override_settings(DATABASE_ROUTERS=[WriteToOther()]):
        Document.objects.bulk_update([document], ["title"])

    assert Document.objects.using("default").get(pk=document.pk).title == "a"
    assert Document.objects.using("other").get(pk=document.pk).title == "b"
    assert Document.objects.using("other").get(pk=document.pk).history[-1]["changes"] == {"title": change("a", "b")}


def test_bulk_update_records_each_changed_object_and_moves_its_snapshot(user):
    documents = [DocumentFactory(title=f"t{i}", views=0) for i in range(3)]
    documents[0].title = "changed"
    documents[1].views = 9
    with acting_as(user):
        assert Document.objects.bulk_update(documents, ["title", "views", "history"]) == 3

    assert stored_history(documents[0])[-1]["changes"] == {"title": change("t0", "changed")}
    assert stored_history(documents[1])[-1]["changes"] == {"views": change(0, 9)}
    assert len(stored_history(documents[2])) == 1
    assert stored_history(documents[0])[-1]["by"] == user.pk
    documents[0].save()  # nothing changed since the bulk update
    assert len(stored_history(documents[0])) == 2


def test_upsert_records_an_update_on_existing_rows_and_never_replaces_their_history():
    kept = Setting.objects.create(key="colour", value="red")
    Setting.objects.create(key="size", value="L")

    Setting.objects.bulk_create(
        [Setting(key="colour", value="blue"), Setting(key="size", value="L"), Setting(key="shape", value="round")],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["value", "history"],
    )

    colour = stored_history(kept)
    assert [entry["action"] for entry in colour] == ["create", "update"]
    assert colour[-1]["changes"] == {"value": change("red", "blue")}
    assert [entry["action"] for entry in stored_history(Setting.objects.get(key="size"))] == ["create"]
    assert [entry["action"] for entry in stored_history(Setting.objects.get(key="shape"))] == ["create"]
    assert Setting.objects.get(key="colour").value == "blue"


def test_queryset_update_is_one_lock_one_update_and_one_append_per_batch(django_assert_num_queries):
    for index in range(5):
        DocumentFactory(title=f"t{index}")

    with django_assert_num_queries(3):
        Document.objects.update(title="same")

    with django_assert_num_queries(4):  # values computed by the database are read back to be recorded
        Document.objects.update(title=models.Value("other"))
