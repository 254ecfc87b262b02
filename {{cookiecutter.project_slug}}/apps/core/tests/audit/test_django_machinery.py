"""The base models under Django's own machinery: managers a project defines, natural keys, refresh_from_db(),
multi-table inheritance, signals, and the system checks that guard the audit fields."""

import json

import pytest
from django.core import serializers
from django.db.models.signals import post_save
from django.test.utils import isolate_apps

from apps.core.models import TrackableModel

from ..factories import CategoryFactory, DocumentFactory
from ..testapp.models import Article, Category, Document, Memo, Ref, Thing, Writer

pytestmark = pytest.mark.django_db


def test_a_filtering_objects_manager_does_not_hide_rows_from_djangos_base_manager():
    writer = Writer.objects.create(name="w", archived=True)
    article = Article.objects.create(writer=writer)

    assert not Writer.objects.filter(pk=writer.pk).exists()
    assert Article.objects.get(pk=article.pk).writer == writer
    assert Writer._base_manager.filter(pk=writer.pk).exists()
    writer.refresh_from_db()


def test_natural_keys_defined_on_objects_serve_djangos_deserializers():
    thing = Thing.objects.create(key="t")
    ref = Ref.objects.create(thing=thing)
    data = serializers.serialize("json", Ref.all_objects.all(), use_natural_foreign_keys=True)
    assert json.loads(data)[0]["fields"]["thing"] == ["t"]

    (loaded,) = serializers.deserialize("json", data)

    assert isinstance(loaded.object, Ref)
    assert loaded.object.thing_id == thing.pk
    assert loaded.object.pk == ref.pk


def test_a_natural_key_resolves_a_soft_deleted_row_too():
    thing = Thing.objects.create(key="gone")
    thing.delete()

    assert Thing._default_manager.get_by_natural_key("gone") == thing


def test_refresh_from_db_honours_the_querysets_only():
    document = Document.objects.get(pk=DocumentFactory.create(title="a", body="b").pk)
    Document.objects.filter(pk=document.pk).update(title="db title", body="db body")

    document.refresh_from_db(from_queryset=Document.objects.only("title"))

    assert (document.title, document.body) == ("db title", "b")


def test_a_multi_table_childs_parent_is_built_without_a_query(django_assert_num_queries):
    memo = Memo.objects.create(title="m", code="c")
    loaded = Memo.objects.get(pk=memo.pk)

    with django_assert_num_queries(0):
        assert loaded.document_ptr.title == "m"  # type: ignore[attr-defined]  # the parent link django-stubs omits


def test_deleting_multi_table_children_costs_what_it_costs_without_the_audit_trail(django_assert_max_num_queries):
    for index in range(5):
        Memo.objects.create(title=str(index), code=str(index))

    # Select the children, their parents' rows are built from them; delete children, then parents.
    with django_assert_max_num_queries(4):
        Memo.objects.all().delete()


def test_models_that_are_not_audited_get_no_signal_receivers_from_it():
    assert not post_save.has_listeners(Category)
    assert post_save.has_listeners(Document)
    CategoryFactory.create()


@isolate_apps("apps.core.tests.testapp")
def test_a_check_warns_about_an_audit_field_declared_again():
    from django.db import models

    class Dated(TrackableModel):
        created_at = models.DateTimeField(db_default=models.functions.Now())

    assert [error.id for error in Dated.check() if str(error.id).startswith("core.")] == ["core.W004"]
