"""apps.core.audit.activity(...): the entries of every audited model, newest first, each with its model and key; a
lazily paged sequence costing at most one query per model per page."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.core.audit import activity, feed
from apps.core.current_user import acting_as

from ..factories import CategoryFactory, DocumentFactory, NoteFactory
from ..testapp.models import Document, Memo, Note
from ..utils import write_history

pytestmark = pytest.mark.django_db


def test_entries_of_every_model_newest_first_with_model_key_and_index(user):
    with acting_as(user):
        document = DocumentFactory.create(title="a")
        note = NoteFactory.create(title="n")
        document.title = "b"
        document.save()

    feed_items = activity(user=user)[:3]

    assert [(item["model"], item["pk"], item["index"], item["action"]) for item in feed_items] == [
        ("testapp.document", document.pk, 1, "update"),
        ("testapp.note", note.pk, 0, "create"),
        ("testapp.document", document.pk, 0, "create"),
    ]
    assert feed_items[0]["changes"] == {"title": {"old": "a", "new": "b"}}


def test_filters_by_user_window_and_models(user, other_user):
    with acting_as(user):
        DocumentFactory.create(title="mine")
    middle = timezone.now()
    with acting_as(other_user):
        NoteFactory.create(title="theirs")

    assert [item["model"] for item in activity(user=other_user)] == ["testapp.note"]
    assert [item["model"] for item in activity(since=middle)] == ["testapp.note"]
    assert [item["model"] for item in activity(until=middle)] == ["testapp.document"]
    assert [item["model"] for item in activity(models=["testapp.Document"])] == ["testapp.document"]
    assert [item["model"] for item in activity(models=[Note], user=user)] == []


def test_a_multi_table_childs_changes_are_its_parents_rows():
    memo = Memo.objects.create(title="m", code="c")

    (item,) = activity(models=[Memo])

    assert (item["model"], item["pk"]) == ("testapp.document", memo.pk)


def test_it_is_a_sequence_read_a_page_at_a_time(django_assert_num_queries, monkeypatch):
    monkeypatch.setattr(feed, "PAGE_SIZE", 4)
    for index in range(6):
        DocumentFactory.create(title=str(index))
        NoteFactory.create(title=str(index))
    models = [Document, Note]

    changes = activity(models=models)
    with django_assert_num_queries(len(models)):
        assert len(changes) == 12
    with django_assert_num_queries(len(models)):
        first = changes[:4]
    with django_assert_num_queries(0):
        assert changes[0] == first[0]
        assert changes[3] == first[3]
    with django_assert_num_queries(len(models)):
        assert len(changes[4:8]) == 4
    everything = list(activity(models=models))
    assert len(everything) == 12
    moments = [item["at"] for item in everything]
    assert moments == sorted(moments, reverse=True)
    assert changes[-1] == everything[-1]


def test_the_cost_grows_by_one_query_per_model(django_assert_num_queries):
    DocumentFactory.create()
    CategoryFactory.create()  # not audited: never asked

    models = feed.audited_models()
    with django_assert_num_queries(len(models)):
        activity()[:10]


def test_entries_that_are_not_the_audit_trails_are_left_out():
    document = DocumentFactory.create(title="a")
    write_history(document, ["text", {"at": "yesterday"}, 3, *Document.objects.get(pk=document.pk).history])

    assert [item["action"] for item in activity(models=[Document])] == ["create"]


def test_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match="not a model label"):
        activity(models=["nonsense"])
    with pytest.raises(ValueError, match="keeps no history"):
        activity(models=[get_user_model()])
    with pytest.raises(ValueError, match="naive datetime"):
        activity(since=datetime.datetime(2026, 1, 1))
