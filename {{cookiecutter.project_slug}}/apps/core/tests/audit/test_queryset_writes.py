"""QuerySet writes behave like Django's, and none of them bypasses the audit trail."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import FieldDoesNotExist, FieldError
from django.db import connection, models, transaction
from django.db.models import Count, F, Value
from django.db.models.functions import Abs, Concat
from django.test.utils import CaptureQueriesContext, override_settings

from apps.core.current_user import acting_as

from ..factories import CategoryFactory, DocumentFactory
from ..testapp.models import Document, Folder, Point, Setting, Switch
from ..utils import change, stored_history

pytestmark = pytest.mark.django_db


def test_update_with_an_annotation_used_in_the_values():
    document = DocumentFactory.create(title="a", views=1)

    updated = Document.objects.annotate(doubled=F("views") * 2).update(views=F("doubled"))

    assert updated == 1
    assert Document.objects.get(pk=document.pk).views == 2
    assert stored_history(document)[-1]["changes"] == {"views": change(1, 2)}


def test_update_with_an_alias_used_in_the_values():
    document = DocumentFactory.create(title="a")

    Document.objects.alias(suffixed=Concat(F("title"), Value("!"))).update(title=F("suffixed"))

    assert stored_history(document)[-1]["changes"] == {"title": change("a", "a!")}


def test_update_of_a_distinct_queryset():
    category = CategoryFactory.create()
    documents = [DocumentFactory.create(category=category, views=0) for _ in range(2)]

    updated = Document.objects.filter(category__name=category.name).distinct().update(views=5)

    assert updated == 2
    assert all(stored_history(document)[-1]["changes"] == {"views": change(0, 5)} for document in documents)


def test_update_of_a_queryset_grouped_by_an_aggregate_annotation():
    busy, quiet = CategoryFactory.create(), CategoryFactory.create()
    busy_documents = [DocumentFactory.create(category=busy, views=0) for _ in range(2)]
    quiet_document = DocumentFactory.create(category=quiet, views=0)

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
    document = DocumentFactory.create(title="a")
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
    document = DocumentFactory.create()
    no_fields: list[str] = []  # (a literal [] is refused by django-stubs already)
    with pytest.raises(ValueError, match="Field names must be given to bulk_update"):
        Document.objects.bulk_update([document], no_fields)


class WriteToOther:
    """A router that sends writes to the "other" database alias."""

    def db_for_write(self, model, **hints):
        return "other"


@pytest.mark.django_db(databases=["default", "other"])
def test_bulk_update_writes_through_the_routers_write_database(settings):
    document = DocumentFactory.create(title="a")
    document.save(using="other", force_insert=True)
    document.title = "b"
    with override_settings(DATABASE_ROUTERS=[WriteToOther()]):
        Document.objects.bulk_update([document], ["title"])

    assert Document.objects.using("default").get(pk=document.pk).title == "a"
    assert Document.objects.using("other").get(pk=document.pk).title == "b"
    assert Document.objects.using("other").get(pk=document.pk).history[-1]["changes"] == {"title": change("a", "b")}


def test_bulk_update_records_each_changed_object_and_moves_its_snapshot(user):
    documents = [DocumentFactory.create(title=f"t{i}", views=0) for i in range(3)]
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


def test_bulk_update_of_a_field_given_by_attname_moves_the_snapshot_too():
    first, second = CategoryFactory.create(), CategoryFactory.create()
    document = DocumentFactory.create(title="a", category=first)
    document.category = second
    Document.objects.bulk_update([document], ["category_id"])  # Django takes a field's attname as well as its name

    document.title = "b"
    document.save()

    # The save records its own change only: the category change is not recorded a second time.
    assert [entry["changes"] for entry in stored_history(document)[1:]] == [
        {"category": change(first.pk, second.pk)},
        {"title": change("a", "b")},
    ]


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


def test_an_upsert_of_a_field_given_by_attname_records_its_change():
    first, second = CategoryFactory.create(), CategoryFactory.create()
    document = DocumentFactory.create(title="a", category=first)

    Document.objects.bulk_create(
        [Document(pk=document.pk, title="a", category=second)],
        update_conflicts=True,
        unique_fields=["pk"],
        update_fields=["category_id"],
    )

    assert Document.objects.get(pk=document.pk).category == second
    assert stored_history(document)[-1]["changes"] == {"category": change(first.pk, second.pk)}


@pytest.mark.parametrize("stamp", ["updated_by", "updated_by_id"])
def test_an_upsert_that_names_a_stamp_itself_sets_it_once(stamp, user):
    setting = Setting.objects.create(key="k", value="old")

    with acting_as(user):
        Setting.objects.bulk_create(
            [Setting(key="k", value="new", updated_by=user)],
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=["value", stamp],  # by name or by attname, as Django takes either
        )

    setting.refresh_from_db()
    assert (setting.value, setting.updated_by) == ("new", user)


def test_queryset_update_is_one_statement_where_the_database_can_write_the_entries(django_assert_num_queries):
    documents = [DocumentFactory.create(title=f"t{index}", views=index) for index in range(5)]

    with django_assert_num_queries(1):
        Document.objects.update(title="same")
    with django_assert_num_queries(1):
        Document.objects.update(views=models.F("views") * 2, data=models.Value({"k": [1, None]}, models.JSONField()))

    for index, document in enumerate(documents):
        history = stored_history(document)
        assert history[1]["changes"] == {"title": change(f"t{index}", "same")}
        expected = {"data": change({}, {"k": [1, None]})}
        if index:
            expected["views"] = change(index, 2 * index)
        assert history[2]["changes"] == expected


def test_updates_of_one_shape_each_record_their_own_values_moment_and_user(user):
    """The entry's SQL is assembled once per shape of update (the fields, and the SQL of each new value); every
    later update of that shape records its own values, moment and user all the same."""
    document = DocumentFactory.create(title="a", views=1)
    rows = Document.objects.filter(pk=document.pk)

    rows.update(views=models.F("views") + 2)
    with acting_as(user):
        rows.update(views=models.F("views") + 5)
    rows.update(title="b")
    rows.update(title="c")

    history = stored_history(document)[1:]
    assert [entry["changes"] for entry in history] == [
        {"views": change(1, 3)},
        {"views": change(3, 8)},
        {"title": change("a", "b")},
        {"title": change("b", "c")},
    ]
    assert [entry["by"] for entry in history] == [None, user.pk, None, None]
    assert [entry["at"] for entry in history] == sorted({entry["at"] for entry in history})


def test_queryset_update_of_other_field_types_is_recorded_in_python_alike(django_assert_num_queries):
    switches = [Switch.objects.create(where=Point(i, i), ratio=i / 2) for i in range(3)]

    # Lock and read, then Django's UPDATE carrying each row's entry (PostgreSQL), or then appending them (SQLite).
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 3):
        Switch.objects.update(where=Point(9, 9), ratio=0.5)
    with django_assert_num_queries(4):  # values computed by the database are read back to be recorded
        Switch.objects.update(ratio=models.F("ratio") + 1)

    for index, switch in enumerate(switches):
        history = stored_history(switch)
        expected = {"where": change(f"{index},{index}", "9,9")}
        if index != 1:
            expected["ratio"] = change(index / 2, 0.5)
        assert history[1]["changes"] == expected
        assert history[2]["changes"] == {"ratio": change(0.5, 1.5)}


@pytest.mark.parametrize(
    ("field", "old", "new", "recorded"),
    [
        ("price", Decimal("1.50"), Decimal("2.5"), ("1.50", "2.50")),
        (
            "publish_at",
            datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC),
            datetime.datetime(2026, 1, 2, 13, 30, 0, 5, tzinfo=datetime.UTC),
            ("2026-01-01T12:00:00.000000+00:00", "2026-01-02T13:30:00.000005+00:00"),
        ),
        ("published_on", datetime.date(2026, 1, 1), datetime.date(2026, 2, 1), ("2026-01-01", "2026-02-01")),
        ("ref", uuid.UUID(int=1), uuid.UUID(int=2), (str(uuid.UUID(int=1)), str(uuid.UUID(int=2)))),
    ],
)
def test_the_database_spells_each_value_as_python_does(field, old, new, recorded):
    """The same change, recorded by save() (in Python) and by update() (by the database), reads the same."""
    saved, updated = DocumentFactory.create(**{field: old}), DocumentFactory.create(**{field: old})
    setattr(saved, field, new)
    saved.save()
    Document.objects.filter(pk=updated.pk).update(**{field: new})

    assert stored_history(saved)[-1]["changes"] == stored_history(updated)[-1]["changes"] == {field: change(*recorded)}


def test_updating_a_queryset_that_can_match_nothing_updates_nothing():
    DocumentFactory.create(title="a")

    assert Document.objects.filter(title__in=[]).update(title="b") == 0


def test_an_upsert_on_the_primary_key_works_as_in_django():
    setting = Setting.objects.create(key="k", value="old")

    Setting.objects.bulk_create(
        [Setting(pk=setting.pk, key="k", value="new")],
        update_conflicts=True,
        unique_fields=["pk"],
        update_fields=["value"],
    )

    assert Setting.objects.get(pk=setting.pk).value == "new"
    assert stored_history(setting)[-1]["changes"] == {"value": change("old", "new")}


@pytest.mark.parametrize("option", ["unique_fields", "update_fields"])
def test_an_upsert_on_a_field_that_is_not_concrete_raises_djangos_error(option):
    options = {"unique_fields": ["name"], "update_fields": ["name"], option: ["pages"]}  # a reverse relation
    with pytest.raises(ValueError, match="can only be used with concrete fields"):
        Folder.objects.bulk_create(
            [Folder(name="f")],
            update_conflicts=True,
            unique_fields=options["unique_fields"],
            update_fields=options["update_fields"],
        )


def test_a_bulk_create_of_one_row_is_one_statement(django_assert_num_queries):
    with django_assert_num_queries(1):
        Document.objects.bulk_create([Document(title="one")])


def test_update_of_a_values_queryset_with_an_annotation_and_a_join():
    category = CategoryFactory.create(name="news")
    document = DocumentFactory.create(category=category, views=0)

    updated = (
        Document.objects.annotate(abs_id=Abs("id"))
        .filter(category__name="news")
        .values("id", "abs_id")
        .update(views=3, category=None)
    )

    assert updated == 1
    assert stored_history(document)[-1]["changes"] == {"views": change(0, 3), "category": change(category.pk, None)}
