"""A row changed by the deletion of the row it points to (SET_NULL, SET_DEFAULT, SET(...)) records an entry and
is stamped, like any other write."""

import pytest

from apps.core.current_user import acting_as

from ..factories import CategoryFactory
from ..testapp.models import Category, Filing
from ..utils import change, stored_history

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("field", ["nullable", "defaulted"])
def test_a_foreign_key_set_to_null_or_to_its_default_is_recorded_and_stamped(field, user):
    category = CategoryFactory.create()
    category_pk = category.pk
    filing = Filing.objects.create(title="f", **{field: category})
    before = Filing.objects.get(pk=filing.pk).updated_at

    with acting_as(user):
        category.delete()

    filing = Filing.objects.get(pk=filing.pk)
    assert getattr(filing, f"{field}_id") is None
    entry = stored_history(filing)[-1]
    assert entry["action"] == "update"
    assert entry["changes"] == {field: change(category_pk, None)}
    assert entry["by"] == user.pk
    assert filing.updated_at > before
    assert filing.updated_by == user


def test_a_foreign_key_set_by_a_callable_is_recorded_and_stamped():
    category = CategoryFactory.create()
    category_pk = category.pk
    filing = Filing.objects.create(title="f", fallback=category)

    category.delete()

    fallback = Category.objects.get(name="Fallback")
    filing = Filing.objects.get(pk=filing.pk)
    assert filing.fallback == fallback
    assert stored_history(filing)[-1]["changes"] == {"fallback": change(category_pk, fallback.pk)}


def test_rows_pointing_elsewhere_are_left_alone():
    doomed, other = CategoryFactory.create(), CategoryFactory.create()
    filing = Filing.objects.create(title="f", nullable=other, defaulted=other, fallback=other)

    doomed.delete()

    assert len(stored_history(filing)) == 1


def test_deleting_many_rows_records_each_change_once():
    categories = [CategoryFactory.create() for _ in range(3)]
    filings = [Filing.objects.create(title=str(c.pk), nullable=c, defaulted=c) for c in categories]

    Category.objects.filter(pk__in=[c.pk for c in categories]).delete()

    for filing in filings:
        category_pk = int(filing.title)
        history = stored_history(filing)
        assert [entry["action"] for entry in history] == ["create", "update", "update"]
        assert {name for entry in history[1:] for name in entry["changes"]} == {"nullable", "defaulted"}
        assert all(
            change_ == change(category_pk, None) for entry in history[1:] for change_ in entry["changes"].values()
        )
