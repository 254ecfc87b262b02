"""The history trail: what an entry looks like, when one is written, and what it may contain."""

import datetime
import json
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core import checks
from django.db import connection, models
from django.test.utils import isolate_apps

from apps.core.current_user import acting_as
from apps.core.models import TrackableModel

from ..factories import CategoryFactory, DocumentFactory
from ..testapp.models import Document
from ..utils import change, stored_history

pytestmark = pytest.mark.django_db

TRACKED_DOCUMENT_FIELDS = {
    "title",
    "body",
    "views",
    "price",
    "ref",
    "published_on",
    "publish_at",
    "category",
    "attachment",
    "data",
}


def raw_history_text(document):
    """The history column exactly as stored, as text, with no JSON decoding on the way."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT CAST(history AS TEXT) FROM testapp_document WHERE id = %s", [document.pk])
        return cursor.fetchone()[0]


def test_trackable_model_is_one_class_under_both_import_paths():
    from apps.accounts.models import TrackableModel as FromAccounts
    from apps.core.models import TrackableModel as FromCore

    assert FromAccounts is FromCore
    assert FromCore.__module__ == "apps.core.models"


def test_entry_has_exactly_the_documented_keys_and_a_utc_timestamp(user):
    with acting_as(user):
        document = DocumentFactory.create()

    (entry,) = stored_history(document)
    assert set(entry) == {"at", "by", "by_name", "action", "changes"}
    at = datetime.datetime.fromisoformat(entry["at"])
    assert entry["at"].endswith("+00:00")
    assert at.utcoffset() == datetime.timedelta(0)
    assert at == document.created_at == document.updated_at
    assert entry["by"] == user.pk
    assert entry["by_name"] == user.get_username()
    assert entry["action"] == "create"


def test_timestamp_is_utc_whatever_the_current_time_zone(settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    document = DocumentFactory.create()

    assert stored_history(document)[0]["at"].endswith("+00:00")


def test_create_entry_lists_every_tracked_field_with_old_null():
    category = CategoryFactory.create()
    document = DocumentFactory.create(title="Report", views=3, category=category)

    (entry,) = stored_history(document)
    assert set(entry["changes"]) == TRACKED_DOCUMENT_FIELDS
    assert all(change["old"] is None for change in entry["changes"].values())
    assert entry["changes"]["title"]["new"] == "Report"
    assert entry["changes"]["views"]["new"] == 3
    assert entry["changes"]["category"]["new"] == category.pk
    assert entry["changes"]["ref"]["new"] == str(document.ref)


def test_bookkeeping_fields_are_not_diffed():
    document = DocumentFactory.create()
    document.title = "changed"
    document.save()

    changes = stored_history(document)[-1]["changes"]
    assert set(changes) == {"title"}
    assert not {"created_at", "updated_at", "created_by", "updated_by", "history"} & set(changes)


def test_update_entry_lists_only_the_changed_fields_with_old_and_new(user):
    document = DocumentFactory.create(title="a", body="unchanged")

    document = Document.objects.get(pk=document.pk)
    document.title = "b"
    document.views = 7
    with acting_as(user):
        document.save()

    entry = stored_history(document)[-1]
    assert entry["action"] == "update"
    assert entry["changes"] == {"title": change("a", "b"), "views": change(0, 7)}
    assert (entry["by"], entry["by_name"]) == (user.pk, user.get_username())


def test_entries_are_kept_oldest_first():
    document = DocumentFactory.create(title="v1")
    for title in ("v2", "v3", "v4"):
        document.title = title
        document.save()

    history = stored_history(document)
    assert [entry["action"] for entry in history] == ["create", "update", "update", "update"]
    assert [entry["changes"]["title"]["new"] for entry in history] == ["v1", "v2", "v3", "v4"]
    assert [entry["at"] for entry in history] == sorted(entry["at"] for entry in history)


def test_saving_with_nothing_changed_adds_no_entry():
    document = DocumentFactory.create()
    document.save()
    loaded = Document.objects.get(pk=document.pk)
    loaded.save()
    loaded.title = loaded.title  # assigned, but equal
    loaded.save()

    assert len(stored_history(document)) == 1


def test_assigning_an_equal_value_in_another_form_is_not_a_change():
    document = DocumentFactory.create(
        price=Decimal("9.50"), publish_at=datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
    )
    loaded = Document.objects.get(pk=document.pk)
    loaded.price = "9.5"
    loaded.publish_at = "2026-03-01T13:00:00+01:00"
    loaded.save()

    assert len(stored_history(document)) == 1


def test_in_memory_history_follows_the_database():
    document = DocumentFactory.create()
    document.title = "changed"
    document.save()

    assert document.history == stored_history(document)
    assert len(document.history) == 2


def test_in_place_change_of_a_json_value_is_recorded():
    document = DocumentFactory.create(data={"tags": ["a"]})
    loaded = Document.objects.get(pk=document.pk)
    loaded.data["tags"].append("b")
    loaded.save()

    assert stored_history(document)[-1]["changes"] == {"data": change({"tags": ["a"]}, {"tags": ["a", "b"]})}


def test_save_with_update_fields_is_audited_and_keeps_unsaved_changes_for_later():
    document = DocumentFactory.create(title="a", body="x")
    document.title = "b"
    document.body = "y"
    document.save(update_fields=["title"])

    assert stored_history(document)[-1]["changes"] == {"title": change("a", "b")}
    assert Document.objects.values_list("body", flat=True).get(pk=document.pk) == "x"

    # The body was not saved, so it is still a pending change for the next save.
    document.save()
    assert stored_history(document)[-1]["changes"] == {"body": change("x", "y")}


def test_save_with_empty_update_fields_writes_nothing():
    document = DocumentFactory.create(title="saved")
    updated_at = document.updated_at
    document.title = "not saved"
    document.save(update_fields=[])

    assert Document.objects.values_list("title", "updated_at").get(pk=document.pk) == ("saved", updated_at)
    assert len(stored_history(document)) == 1


def test_a_field_deferred_at_load_and_then_assigned_is_recorded_with_old_null():
    document = DocumentFactory.create(title="a")
    loaded = Document.objects.only("pk").get(pk=document.pk)
    loaded.title = "b"
    loaded.save()

    entry = stored_history(document)[-1]
    assert entry["changes"] == {"title": change(None, "b")}
    assert Document.objects.values_list("title", flat=True).get(pk=document.pk) == "b"


def test_excluded_field_never_reaches_the_stored_json():
    secret = "sk-live-" + uuid.uuid4().hex
    document = DocumentFactory.create(title="a", api_token=secret)
    document.api_token = secret[::-1]
    document.save()
    document.api_token = "rotated-" + secret
    document.title = "b"
    document.save()
    Document.objects.filter(pk=document.pk).update(api_token="updated-" + secret)

    raw = raw_history_text(document)
    assert secret not in raw
    assert secret[::-1] not in raw
    assert "api_token" not in raw
    history = json.loads(raw)
    assert [entry["action"] for entry in history] == ["create", "update"]
    assert history[-1]["changes"] == {"title": change("a", "b")}


def test_values_of_every_kind_are_stored_json_safe():
    category = CategoryFactory.create()
    ref = uuid.UUID("12345678-1234-5678-1234-567812345678")
    document = DocumentFactory.create()
    document.price = Decimal("1234.50")
    document.ref = ref
    document.published_on = datetime.date(2026, 2, 28)
    document.publish_at = datetime.datetime(2026, 3, 1, 10, 30, tzinfo=ZoneInfo("Europe/Paris"))
    document.category = category
    document.attachment = "documents/report.pdf"
    nested = {"ok": True}
    document.data = {"amount": 3, "nested": nested}
    document.save()

    changes = stored_history(document)[-1]["changes"]
    assert changes["price"]["new"] == "1234.50"
    assert changes["ref"]["new"] == "12345678-1234-5678-1234-567812345678"
    assert changes["published_on"]["new"] == "2026-02-28"
    assert changes["publish_at"]["new"] == "2026-03-01T09:30:00.000000+00:00"
    assert changes["category"] == change(None, category.pk)
    assert changes["attachment"] == change("", "documents/report.pdf")
    assert changes["data"] == change({}, {"amount": 3, "nested": nested})
    # Everything survives a JSON round trip unchanged.
    assert json.loads(json.dumps(document.history)) == stored_history(document)


def test_a_foreign_key_is_recorded_as_the_related_id():
    first, second = CategoryFactory.create(), CategoryFactory.create()
    first_pk = first.pk
    document = DocumentFactory.create(category=first)
    document.category = second
    document.save()
    first.delete()  # the entry keeps the id of a row that is gone

    assert stored_history(document)[-1]["changes"] == {"category": change(first_pk, second.pk)}


@isolate_apps("apps.core.tests.testapp")
def test_check_reports_a_misspelt_history_exclude():
    class Misspelt(TrackableModel):
        api_token = models.CharField(max_length=64)
        history_exclude = ("api_tokn",)

        class Meta:
            app_label = "testapp"

    errors = [error for error in Misspelt.check() if str(error.id).startswith("core.")]
    assert [error.id for error in errors] == ["core.E002"]
    assert "api_tokn" in errors[0].msg


@isolate_apps("apps.core.tests.testapp")
def test_check_reports_a_history_exclude_written_as_a_bare_string():
    class BareString(TrackableModel):
        api_token = models.CharField(max_length=64)
        history_exclude = "api_token"

        class Meta:
            app_label = "testapp"

    errors = [error for error in BareString.check() if str(error.id).startswith("core.")]
    assert [error.id for error in errors] == ["core.E001"]
    assert isinstance(errors[0], checks.Error)


def test_check_accepts_the_test_models():
    assert Document.check() == []


def test_no_password_hash_ever_enters_a_history(django_user_model):
    """The user model is not audited, and audited rows refer to users by id and name only."""
    user = django_user_model.objects.create_user(
        **{django_user_model.USERNAME_FIELD: "hasher@example.com"}, password="a-long-Passphrase-42"
    )
    with acting_as(user):
        document = DocumentFactory.create(title="a")
        document.title = "b"
        document.save()
        Document.objects.filter(pk=document.pk).update(title="c")
    user.set_password("another-long-Passphrase-43")
    user.save()

    assert not issubclass(django_user_model, TrackableModel)
    stored = json.dumps(stored_history(document))
    assert user.password not in stored
    assert f"{identify_hasher(user.password).algorithm}$" not in stored  # nor the first password's hash
    assert "password" not in stored
