"""What each write costs in queries, and that the bulk and queryset-wide writes keep the audit trail."""

import datetime
from datetime import UTC
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.db.models import F

from apps.core.current_user import acting_as

from ..factories import CategoryFactory, DocumentFactory
from ..testapp.models import Document
from ..utils import change, stored_history

pytestmark = pytest.mark.django_db


def statements(captured):
    return [query["sql"].split()[0].upper() for query in captured.captured_queries]


def test_create_is_one_insert(django_assert_num_queries, user):
    with acting_as(user), django_assert_num_queries(1) as captured:
        document = Document.objects.create(title="new")

    assert statements(captured) == ["INSERT"]
    assert [entry["action"] for entry in stored_history(document)] == ["create"]


def test_update_of_a_loaded_instance_is_one_update_that_appends_the_entry(django_assert_num_queries):
    document = Document.objects.get(pk=DocumentFactory.create(title="a").pk)

    document.title = "b"
    with django_assert_num_queries(1) as captured:
        document.save()

    assert statements(captured) == ["UPDATE"]
    assert stored_history(document)[-1]["changes"] == {"title": change("a", "b")}


def test_save_with_update_fields_is_one_update(django_assert_num_queries):
    document = DocumentFactory.create(title="a")

    document.title = "b"
    with django_assert_num_queries(1) as captured:
        document.save(update_fields=["title"])

    assert statements(captured) == ["UPDATE"]
    assert stored_history(document)[-1]["changes"] == {"title": change("a", "b")}


def test_rows_are_loaded_without_their_history_which_is_read_on_first_access(django_assert_num_queries):
    document = DocumentFactory.create(title="a")

    with django_assert_num_queries(1) as captured:
        loaded = Document.objects.get(pk=document.pk)
    assert '"history"' not in captured.captured_queries[0]["sql"]

    with django_assert_num_queries(1):
        assert [entry["action"] for entry in loaded.history] == ["create"]


def test_a_save_is_one_update_of_every_field_as_model_save_is(django_assert_num_queries):
    """Like Model.save(), a save writes every loaded field (the last writer wins); its entry lists what this
    instance changed since it was loaded."""
    document = DocumentFactory.create(title="a", body="kept")
    loaded = Document.objects.get(pk=document.pk)
    Document.objects.filter(pk=document.pk).update(body="changed elsewhere")

    loaded.title = "b"
    with django_assert_num_queries(1) as captured:
        loaded.save()

    assert statements(captured) == ["UPDATE"]
    assert Document.objects.values_list("title", "body").get(pk=document.pk) == ("b", "kept")
    assert stored_history(document)[-1]["changes"] == {"title": change("a", "b")}


def test_save_with_update_fields_writes_the_fields_named_even_if_unchanged():
    document = DocumentFactory.create(title="a", body="kept")
    loaded = Document.objects.get(pk=document.pk)
    Document.objects.filter(pk=document.pk).update(body="changed elsewhere")

    loaded.save(update_fields=["body"])

    assert Document.objects.values_list("body", flat=True).get(pk=document.pk) == "kept"


def test_saving_with_deferred_history_does_not_load_it(django_assert_num_queries):
    document = DocumentFactory.create(title="a")
    loaded = Document.objects.defer("history").get(pk=document.pk)

    loaded.title = "b"
    with django_assert_num_queries(1) as captured:
        loaded.save()

    assert statements(captured) == ["UPDATE"]
    assert [entry["action"] for entry in stored_history(document)] == ["create", "update"]


def test_queryset_update_records_an_entry_on_each_changed_row_and_stamps_every_row(user):
    changed = DocumentFactory.create_batch(2, title="old")
    unchanged = DocumentFactory.create(title="new")
    other = DocumentFactory.create(title="other")

    with acting_as(user):
        matched = Document.objects.exclude(pk=other.pk).update(title="new")

    assert matched == 3
    for document in Document.objects.exclude(pk=other.pk):
        assert document.title == "new"
        assert document.updated_by == user
        assert document.updated_at > document.created_at
    for document in changed:
        entry = stored_history(document)[-1]
        assert (entry["action"], entry["by"], entry["changes"]) == ("update", user.pk, {"title": change("old", "new")})
    assert len(stored_history(unchanged)) == 1
    assert len(stored_history(other)) == 1
    assert Document.objects.get(pk=other.pk).updated_by is None


def test_queryset_update_with_an_expression_records_each_rows_own_values():
    first, second = DocumentFactory.create(views=1), DocumentFactory.create(views=10)

    Document.objects.update(views=F("views") + 1)

    assert stored_history(first)[-1]["changes"] == {"views": change(1, 2)}
    assert stored_history(second)[-1]["changes"] == {"views": change(10, 11)}


def test_queryset_update_accepts_foreign_keys_by_instance_and_by_attname():
    old, new = CategoryFactory.create(), CategoryFactory.create()
    first, second = DocumentFactory.create(category=old), DocumentFactory.create(category=old)

    Document.objects.filter(pk=first.pk).update(category=new)
    Document.objects.filter(pk=second.pk).update(category_id=new.pk)

    for document in (first, second):
        assert stored_history(document)[-1]["changes"] == {"category": change(old.pk, new.pk)}
        assert Document.objects.get(pk=document.pk).category == new


def test_queryset_update_of_untracked_fields_stamps_the_rows_without_an_entry(user):
    document = DocumentFactory.create(api_token="old")

    with acting_as(user):
        Document.objects.filter(pk=document.pk).update(api_token="new")

    document = Document.objects.get(pk=document.pk)
    assert (document.api_token, document.updated_by) == ("new", user)
    assert len(document.history) == 1


def test_queryset_update_writes_untracked_values_to_rows_whose_tracked_values_do_not_change():
    document = DocumentFactory.create(title="same", api_token="old")

    Document.objects.update(title="same", api_token="new")

    assert Document.objects.get(pk=document.pk).api_token == "new"
    assert len(stored_history(document)) == 1


def test_a_sliced_queryset_cannot_be_updated():
    DocumentFactory.create()

    with pytest.raises(TypeError, match="slice"):
        Document.objects.all()[:1].update(title="x")


def test_bulk_create_fills_the_audit_fields_and_records_create_entries(django_assert_num_queries, user):
    documents = [Document(title=f"bulk {index}") for index in range(3)]

    with acting_as(user), django_assert_num_queries(1) as captured:
        Document.objects.bulk_create(documents)

    assert statements(captured) == ["INSERT"]
    for document in Document.objects.filter(title__startswith="bulk"):
        assert (document.created_by, document.updated_by) == (user, user)
        assert document.created_at == document.updated_at
        (entry,) = document.history
        assert entry["action"] == "create"
        assert entry["by_name"] == user.get_username()
        assert entry["changes"]["title"] == change(None, document.title)


def test_bulk_created_instances_can_be_saved_again_with_a_proper_diff():
    (document,) = Document.objects.bulk_create([Document(title="a")])

    document.title = "b"
    document.save()

    assert stored_history(document)[-1]["changes"] == {"title": change("a", "b")}


def test_bulk_update_records_an_entry_per_changed_object_in_a_constant_number_of_statements(
    django_assert_num_queries, user
):
    first, second, unchanged = (Document.objects.get(pk=DocumentFactory.create(title=title).pk) for title in "abc")
    first.title, second.title = "A", "B"
    second.views = 5

    # Django's own CASE update, in which the database also writes the entries.
    with acting_as(user), django_assert_num_queries(1) as captured:
        updated = Document.objects.bulk_update([first, second, unchanged], ["title", "views"])

    assert updated == 3
    assert statements(captured) == ["UPDATE"]
    assert stored_history(first)[-1]["changes"] == {"title": change("a", "A")}
    assert stored_history(second)[-1]["changes"] == {"title": change("b", "B"), "views": change(0, 5)}
    assert len(stored_history(unchanged)) == 1
    for document in Document.objects.all():
        assert document.updated_by == user
    assert first.history == stored_history(first)  # the in-memory copy follows


def test_bulk_update_only_diffs_the_fields_it_writes():
    document = Document.objects.get(pk=DocumentFactory.create(title="a", body="x").pk)
    document.title, document.body = "b", "y"

    Document.objects.bulk_update([document], ["title"])

    assert stored_history(document)[-1]["changes"] == {"title": change("a", "b")}
    assert Document.objects.get(pk=document.pk).body == "x"


def test_bulk_update_records_each_rows_own_values_of_every_kind_as_save_would():
    category = CategoryFactory.create()
    changed, unchanged, cleared = (
        Document.objects.get(pk=DocumentFactory.create(title=title, price=Decimal("1.50"), data={"a": 1}).pk)
        for title in "abc"
    )
    changed.price, changed.category, changed.data = Decimal("2.25"), category, {"a": [1, None]}
    changed.published_on = datetime.date(2026, 1, 2)
    changed.publish_at = datetime.datetime(2026, 1, 2, 3, 4, 5, 6, UTC)
    unchanged.price, unchanged.data = Decimal("1.5"), {"a": 1}  # the stored values, spelled otherwise
    cleared.price = None
    fields = ["price", "category", "data", "published_on", "publish_at"]

    Document.objects.bulk_update([changed, unchanged, cleared], fields)

    assert stored_history(changed)[-1]["changes"] == {
        "price": change("1.50", "2.25"),
        "category": change(None, category.pk),
        "data": change({"a": 1}, {"a": [1, None]}),
        "published_on": change(None, "2026-01-02"),
        "publish_at": change(None, "2026-01-02T03:04:05.000006+00:00"),
    }
    assert len(stored_history(unchanged)) == 1
    assert stored_history(cleared)[-1]["changes"] == {"price": change("1.50", None)}


def test_bulk_update_of_a_value_the_database_computes_records_what_it_computed():
    first, second = (Document.objects.get(pk=DocumentFactory.create(views=views).pk) for views in (1, 5))
    first.views, second.views = F("views") + 10, 6

    Document.objects.bulk_update([first, second], ["views"])

    assert stored_history(first)[-1]["changes"] == {"views": change(1, 11)}
    assert stored_history(second)[-1]["changes"] == {"views": change(5, 6)}


def test_queryset_update_is_audited_from_async_code_too(user):
    document = DocumentFactory.create(title="a")

    async def update():
        with acting_as(user):
            return await Document.objects.filter(pk=document.pk).aupdate(title="b")

    assert async_to_sync(update)() == 1
    entry = stored_history(document)[-1]
    assert (entry["by"], entry["changes"]) == (user.pk, {"title": change("a", "b")})
