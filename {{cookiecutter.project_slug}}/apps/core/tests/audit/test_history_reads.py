"""obj.history reads: as_of(), versions(), diff(), on a list that stays a list; exact for every recorded field type
(a reconstruction property test); unreadable entries skipped; the archived part read when needed."""

import datetime
import decimal
import json
import pickle
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.audit import entries
from apps.core.audit.reads import HistoryList

from ..factories import CategoryFactory, DocumentFactory, NoteFactory
from ..testapp.models import Document, Note, Point, Switch
from ..utils import stored_history, write_history

pytestmark = pytest.mark.django_db


def _moment():
    """A moment strictly after every entry written so far."""
    return timezone.now()


def _stored(obj, names):
    """{name: stored form} of `names` as `obj` holds them: what the history records."""
    return {
        name: entries.stored_form(obj._meta.get_field(name), getattr(obj, obj._meta.get_field(name).attname))
        for name in names
    }


def test_the_history_is_still_a_list_equal_to_plain_lists_and_serialisable():
    document = DocumentFactory.create(title="a")

    history = Document.objects.get(pk=document.pk).history

    assert isinstance(history, HistoryList)
    assert isinstance(history, list)
    assert history == stored_history(document)
    assert json.loads(json.dumps(history)) == stored_history(document)
    assert type(pickle.loads(pickle.dumps(history))) is list  # noqa: S301 - our own value


def test_reads_cost_nothing_until_called(django_assert_num_queries):
    document = DocumentFactory.create(title="a")
    with django_assert_num_queries(1):
        loaded = Document.objects.get(pk=document.pk)
    loaded.title = "b"
    with django_assert_num_queries(1):
        loaded.save()


def test_as_of_gives_the_values_held_then_and_none_before_the_row_existed():
    before = _moment()
    document = DocumentFactory.create(title="first", views=1)
    after_create = _moment()
    document.title, document.views = "second", 2
    document.save()

    history = Document.objects.get(pk=document.pk).history

    assert history.as_of(before) is None
    old = history.as_of(after_create)
    assert (old.pk, old.title, old.views) == (document.pk, "first", 1)
    assert old._state.adding  # unsaved: for reading
    now = history.as_of(_moment())
    assert (now.title, now.views) == ("second", 2)


def test_as_of_is_exact_for_every_recorded_field_type():
    category = CategoryFactory.create()
    document = DocumentFactory.create(
        title="t",
        price=decimal.Decimal("12.50"),
        published_on=datetime.date(2026, 1, 2),
        publish_at=datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC),
        category=category,
        attachment="documents/a.pdf",
        data={"nested": [1, True, None, "x"], "n": 1.5},
        ref=uuid.UUID("12345678-1234-5678-1234-567812345678"),
    )
    then = _moment()
    Document.objects.filter(pk=document.pk).update(
        price=None, published_on=None, publish_at=None, category=None, attachment="", data={}, ref=uuid.uuid4()
    )

    old = Document.objects.get(pk=document.pk).history.as_of(then)

    assert old.price == decimal.Decimal("12.50")
    assert old.published_on == datetime.date(2026, 1, 2)
    assert old.publish_at == datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)
    assert old.category_id == category.pk
    assert old.attachment.name == "documents/a.pdf"
    assert old.data == {"nested": [1, True, None, "x"], "n": 1.5}
    assert old.ref == uuid.UUID("12345678-1234-5678-1234-567812345678")


def test_as_of_leaves_excluded_fields_at_their_current_value():
    document = DocumentFactory.create(title="a", api_token="old-secret")
    then = _moment()
    document.title, document.api_token = "b", "new-secret"
    document.save()

    old = Document.objects.get(pk=document.pk).history.as_of(then)

    assert (old.title, old.api_token) == ("a", "new-secret")


def test_a_naive_datetime_is_refused():
    history = Document.objects.get(pk=DocumentFactory.create().pk).history

    with pytest.raises(ValueError, match="naive datetime"):
        history.as_of(datetime.datetime(2026, 1, 1))


def test_versions_are_each_state_oldest_first_lazily():
    document = DocumentFactory.create(title="a")
    for title in ("b", "c"):
        document.title = title
        document.save()

    versions = Document.objects.get(pk=document.pk).history.versions()

    assert not isinstance(versions, list)
    states = [(entry["action"], values["title"]) for entry, values in versions]
    assert states == [("create", "a"), ("update", "b"), ("update", "c")]


def test_diff_between_two_points_by_index_or_by_time():
    document = DocumentFactory.create(title="a", views=1, body="same")
    after_create = _moment()
    document.title, document.views = "b", 2
    document.save()
    document.title = "c"
    document.save()
    history = Document.objects.get(pk=document.pk).history

    assert history.diff(0, -1) == {"title": {"old": "a", "new": "c"}, "views": {"old": 1, "new": 2}}
    assert history.diff(after_create, 1) == {"title": {"old": "a", "new": "b"}, "views": {"old": 1, "new": 2}}
    assert history.diff(1, 1) == {}


def test_an_index_out_of_range_names_the_historys_length():
    history = Document.objects.get(pk=DocumentFactory.create().pk).history

    with pytest.raises(IndexError, match="the history has 1 entries"):
        history.diff(0, 5)


def test_reads_work_on_a_soft_deleted_row():
    note = NoteFactory.create(title="a")
    alive = _moment()
    note.delete()

    history = Note.all_objects.get(pk=note.pk).history

    assert history.as_of(alive).date_deleted is None
    assert history.as_of(_moment()).date_deleted is not None
    assert list(history.diff(alive, -1)) == ["date_deleted"]


def test_unreadable_entries_are_skipped_by_every_read():
    document = DocumentFactory.create(title="a")
    planted = ["not an entry", {"at": "yesterday", "changes": {"title": {"new": "x"}}}, {"action": "update"}, 7]
    Document.objects.filter(pk=document.pk).update(title="b")
    _plant(document, planted)

    history = Document.objects.get(pk=document.pk).history

    assert history.as_of(_moment()).title == "b"
    assert [values["title"] for _entry, values in history.versions()] == ["a", "b"]
    assert history.diff(0, -1) == {"title": {"old": "a", "new": "b"}}


def test_a_row_whose_oldest_entries_are_archived_reads_them_through_history_of(monkeypatch):
    document = DocumentFactory.create(title="a")
    after_create = _moment()
    for title in ("b", "c"):
        document.title = title
        document.save()
    whole = stored_history(document)
    # The oldest entry moved out of the row, as the archive does for a row past its history_row_limit.
    write_history(document, whole[1:])
    monkeypatch.setattr(Document, "history_of", classmethod(lambda cls, pk: _FullHistory(whole)), raising=False)

    history = Document.objects.get(pk=document.pk).history

    assert len(history) == 2  # obj.history holds only the row's own entries
    assert history.as_of(after_create).title == "a"  # exact, from the archived part
    assert history.diff(0, 1) == {"title": {"old": "b", "new": "c"}}  # indexes are the row's own


def test_async_variants():
    document = DocumentFactory.create(title="a")
    then = _moment()
    document.title = "b"
    document.save()
    history = Document.objects.get(pk=document.pk).history

    assert async_to_sync(history.aas_of)(then).title == "a"
    assert async_to_sync(history.adiff)(0, 1) == {"title": {"old": "a", "new": "b"}}
    assert [values["title"] for _entry, values in async_to_sync(history.aversions)()] == ["a", "b"]


# --- reconstruction, for random sequences of edits ---------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=5,
)
DOCUMENT_VALUES = {
    "title": st.text(max_size=20),
    "body": st.text(max_size=50),
    "views": st.integers(min_value=0, max_value=2**31 - 1),
    "price": st.none() | st.decimals(min_value=-(10**7), max_value=10**7, places=2, allow_nan=False),
    "ref": st.uuids(),
    "published_on": st.none() | st.dates(),
    "publish_at": st.none() | st.datetimes(timezones=st.just(datetime.UTC)),
    "attachment": st.sampled_from(["", "documents/a.pdf", "documents/b.txt"]),
    "data": st.dictionaries(st.text(max_size=3), _JSON, max_size=3) | st.lists(_JSON, max_size=3),
}
SWITCH_VALUES = {
    "on": st.booleans(),
    "count": st.integers(-(2**31), 2**31 - 1),
    "ratio": st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32),
    "settings": st.dictionaries(st.text(max_size=3), st.integers(0, 1) | st.booleans(), max_size=3),
    "where": st.none() | st.builds(Point, st.integers(-99, 99), st.integers(-99, 99)),
}


def _no_nul(value):
    """PostgreSQL stores no NUL character in text or JSON."""
    return connection.vendor != "postgresql" or "\\u0000" not in json.dumps(value, default=repr)


def _edits(values):
    return st.lists(st.fixed_dictionaries({}, optional=values).filter(_no_nul), min_size=1, max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=_edits(DOCUMENT_VALUES))
def test_as_of_reconstructs_every_state_of_a_document(edits):
    _check_reconstruction(Document(title="start"), edits, [*DOCUMENT_VALUES, "category"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=_edits(SWITCH_VALUES))
def test_as_of_reconstructs_every_state_of_a_switch(edits):
    _check_reconstruction(Switch(), edits, list(SWITCH_VALUES))


def _check_reconstruction(obj, edits, names):
    """Save `obj`, then each edit in turn, recording the stored values after each save and the moment after it;
    as_of() of each moment must give back exactly those values."""
    obj.save()
    recorded = [(_moment(), _stored(obj, names))]
    for edit in edits:
        for name, value in edit.items():
            setattr(obj, name, value)
        obj.save()
        obj.refresh_from_db()  # what the database really holds (a float stored as 32 bits, say)
        recorded.append((_moment(), _stored(obj, names)))

    history = type(obj).objects.get(pk=obj.pk).history
    for moment, values in recorded:
        assert _stored(history.as_of(moment), names) == values


class _FullHistory(list):
    """A complete history as MyModel.history_of(pk) gives it (a sequence of every entry, oldest first)."""


def _plant(obj, planted):
    """Append entries that are not what the audit trail writes, as hand-written SQL or an old data migration might."""
    write_history(obj, [*stored_history(obj), *planted])
