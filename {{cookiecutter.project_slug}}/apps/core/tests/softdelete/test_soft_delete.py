"""Soft delete that Django's own machinery understands: managers, validation, forms, cascades, stale instances."""

from typing import ClassVar

import pytest
from django import forms
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError, RestrictedError
from django.test.utils import isolate_apps

from apps.core.audit import entries
from apps.core.models import TimestampedModel, TrackableModel
from apps.core.softdelete.managers import AliveManager

from ..testapp.models import (
    Binder,
    Comment,
    Folder,
    Handle,
    Hold,
    Page,
    Retention,
    ReusableHandle,
    Scan,
    Secret,
    SecretChild,
    Sheet,
    Tab,
)
from ..utils import change, stored_history

pytestmark = pytest.mark.django_db


def actions(row):
    return [entry["action"] for entry in stored_history(row)]


def test_djangos_default_and_base_managers_see_deleted_rows_and_objects_does_not():
    alive, deleted = Folder.objects.create(name="alive"), Folder.objects.create(name="deleted")
    deleted.delete()

    assert set(Folder._default_manager.all()) == {alive, deleted}
    assert set(Folder._base_manager.all()) == {alive, deleted}
    assert set(Folder.objects.all()) == {alive}
    assert set(Folder.all_objects.all()) == {alive, deleted}
    assert set(Folder.all_objects.deleted()) == {deleted}


def test_a_unique_value_held_by_a_deleted_row_is_a_validation_error_that_says_so():
    Handle.objects.create(name="alice").delete()

    with pytest.raises(ValidationError) as caught:
        Handle(name="alice").full_clean()

    assert caught.value.message_dict == {
        "name": ["A deleted handle already has this name. Restore it, or choose another value."]
    }


def test_a_unique_value_held_by_a_live_row_keeps_djangos_message():
    Handle.objects.create(name="alice")

    with pytest.raises(ValidationError) as caught:
        Handle(name="alice").full_clean()

    assert caught.value.message_dict == {"name": ["Handle with this Name already exists."]}


def test_a_partial_unique_constraint_lets_a_deleted_rows_value_be_reused():
    ReusableHandle.objects.create(name="alice").delete()

    reuse = ReusableHandle(name="alice")
    reuse.full_clean()
    reuse.save()

    assert ReusableHandle.all_objects.filter(name="alice").count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        ReusableHandle.objects.create(name="alice")


class PageForm(forms.ModelForm):
    class Meta:
        model = Page
        fields = ["folder", "title"]


def test_a_child_of_a_deleted_parent_can_still_be_edited_in_a_model_form():
    folder = Folder.objects.create(name="f")
    page = Page.objects.create(folder=folder, title="p")
    Folder.objects.filter(pk=folder.pk).delete()  # soft: the page goes too, and stays editable

    form = PageForm({"folder": folder.pk, "title": "renamed"}, instance=Page.all_objects.get(pk=page.pk))

    assert form.is_valid(), form.errors


def make_tree():
    folder = Folder.objects.create(name="f")
    page = Page.objects.create(folder=folder, title="page")
    subpage = Page.objects.create(folder=folder, parent=page, title="subpage")
    earlier = Page.objects.create(folder=folder, title="deleted earlier")
    earlier.delete()
    scan = Scan.objects.create(page=page)
    return folder, page, subpage, earlier, scan


def test_deleting_a_row_soft_deletes_its_timestamped_cascade_and_names_the_cause():
    folder, page, subpage, earlier, scan = make_tree()
    earlier_deleted_at = Page.all_objects.get(pk=earlier.pk).date_deleted

    assert folder.delete() == (3, {"testapp.Folder": 1, "testapp.Page": 2})

    assert not Folder.objects.exists()
    assert not Page.objects.exists()
    assert Scan.objects.filter(pk=scan.pk).exists()  # not timestamped: left in place
    cause = {"model": "testapp.folder", "pk": folder.pk}
    for child in (page, subpage):
        entry = stored_history(child)[-1]
        assert (entry["action"], entry["cause"]) == ("delete", cause)
        assert Page.all_objects.get(pk=child.pk).date_deleted == folder.date_deleted
    assert "cause" not in stored_history(folder)[-1]
    assert Page.all_objects.get(pk=earlier.pk).date_deleted == earlier_deleted_at
    assert actions(earlier) == ["create", "delete"]


def test_restore_brings_back_exactly_the_rows_the_deletion_cascaded_to():
    folder, page, subpage, earlier, _scan = make_tree()
    folder.delete()

    assert folder.restore() == 3

    assert set(Page.objects.all()) == {page, subpage}
    assert Page.all_objects.get(pk=earlier.pk).is_deleted
    assert actions(page) == ["create", "delete", "restore"]
    assert stored_history(page)[-1]["cause"] == {"model": "testapp.folder", "pk": folder.pk}


def test_a_queryset_delete_cascades_per_row():
    first, second = Folder.objects.create(name="1"), Folder.objects.create(name="2")
    pages = [Page.objects.create(folder=folder, title=folder.name) for folder in (first, second)]

    assert Folder.objects.all().delete() == (4, {"testapp.Folder": 2, "testapp.Page": 2})

    for page, folder in zip(pages, (first, second), strict=True):
        assert stored_history(page)[-1]["cause"] == {"model": "testapp.folder", "pk": folder.pk}
    assert Folder.all_objects.all().restore() == 4
    assert Page.objects.count() == 2


@pytest.mark.parametrize(("guard", "error"), [(Retention, ProtectedError), (Hold, RestrictedError)])
def test_protect_and_restrict_refuse_a_soft_delete_as_a_real_one_and_nothing_changes(guard, error):
    folder = Folder.objects.create(name="kept")
    page = Page.objects.create(folder=folder, title="p")
    guard.objects.create(folder=folder)

    with pytest.raises(error):
        folder.delete()
    with pytest.raises(error):
        Folder.objects.filter(pk=folder.pk).delete()

    assert Folder.objects.filter(pk=folder.pk).exists()
    assert Page.objects.filter(pk=page.pk).exists()
    assert actions(folder) == ["create"]


def test_deleting_a_stale_instance_of_a_row_deleted_elsewhere_adds_nothing():
    folder = Folder.objects.create(name="f")
    stale = Folder.objects.get(pk=folder.pk)
    folder.delete()

    assert stale.delete() == (0, {})

    assert stale.date_deleted == folder.date_deleted
    assert Folder.all_objects.get(pk=folder.pk).date_deleted == folder.date_deleted
    assert actions(folder) == ["create", "delete"]


def test_deleting_a_row_hard_deleted_elsewhere_returns_nothing_deleted():
    folder = Folder.objects.create(name="f")
    Folder.all_objects.filter(pk=folder.pk).hard_delete()

    assert folder.delete() == (0, {})


def test_a_subclass_cannot_let_a_parents_excluded_field_back_into_the_history():
    child = SecretChild.objects.create(name="n", token="t0", pin="1234")
    child.token, child.pin, child.name = "t1", "9999", "m"
    child.save()

    assert entries.excluded_names(SecretChild) == {"token", "pin"}
    assert "token" not in str(stored_history(child))
    assert "1234" not in str(stored_history(child))
    assert stored_history(child)[-1]["changes"] == {"name": change("n", "m")}


def test_a_check_warns_when_a_subclass_drops_a_parents_exclusion():
    warnings = [error for error in SecretChild.check() if error.id == "core.W001"]

    assert len(warnings) == 1
    assert "'token'" in warnings[0].msg
    assert not [error for error in Secret.check() if error.id == "core.W001"]


@isolate_apps("apps.core.tests.testapp")
def test_checks_warn_about_managers_that_would_hide_rows_or_bypass_the_audit_trail():
    class Careless(TrackableModel):
        objects: ClassVar["models.Manager[Careless]"] = models.Manager()  # type: ignore[assignment]  # the mistake

    class Hiding(TimestampedModel):
        objects = AliveManager()  # declared on the model itself, and its own Meta drops default_manager_name:

        class Meta:  # Django's default manager now hides rows
            ordering = ["pk"]

    # (The user foreign keys cannot resolve in an isolated registry: only the core checks matter here.)
    assert {error.id for error in Careless.check() if str(error.id).startswith("core.")} == {"core.W002"}
    assert {error.id for error in Hiding.check() if str(error.id).startswith("core.")} == {"core.W003"}


def test_the_projects_models_pass_the_checks():
    # SecretChild is the test app's example of the history_exclude warning (see above).
    trackable = [
        model for model in apps.get_models() if issubclass(model, TrackableModel) and model is not SecretChild
    ]
    assert len(trackable) > 10
    assert not [error for model in trackable for error in model.check() if str(error.id).startswith("core.")]


def test_related_managers_see_every_row_unless_asked_for_objects():
    folder = Folder.objects.create(name="f")
    kept, deleted = Page.objects.create(folder=folder, title="kept"), Page.objects.create(folder=folder, title="gone")
    deleted.delete()

    assert set(folder.pages.all()) == {kept, deleted}
    assert set(folder.pages(manager="objects").all()) == {kept}


def test_a_hidden_relation_cascades_too():
    folder = Folder.objects.create(name="f")
    tab = Tab.objects.create(folder=folder)

    folder.delete()

    assert Tab.all_objects.get(pk=tab.pk).is_deleted
    folder.restore()
    assert not Tab.all_objects.get(pk=tab.pk).is_deleted


def test_deleting_the_parent_row_of_a_multi_table_child_cascades_to_the_childs_children():
    binder = Binder.objects.create(name="b")
    sheet = Sheet.objects.create(binder=binder)

    assert Folder.objects.get(pk=binder.pk).delete() == (2, {"testapp.Folder": 1, "testapp.Sheet": 1})

    assert Binder.all_objects.get(pk=binder.pk).is_deleted
    assert Sheet.all_objects.get(pk=sheet.pk).is_deleted


def test_a_refused_soft_delete_leaves_the_callers_transaction_usable():
    folder = Folder.objects.create(name="f")
    Hold.objects.create(folder=folder)

    with transaction.atomic():
        with pytest.raises(RestrictedError):
            folder.delete()
        assert Folder.objects.filter(pk=folder.pk).exists()


def test_an_unsaved_row_cannot_be_deleted_as_in_django():
    with pytest.raises(ValueError, match="can't be deleted because its id attribute is set to None"):
        Folder(name="new").delete()


def test_keep_parents_is_refused_clearly():
    binder = Binder.objects.create(name="b")
    pk = binder.pk

    with pytest.raises(ValueError, match="keep_parents=True cannot apply"):
        binder.delete(keep_parents=True)
    assert binder.hard_delete(keep_parents=True)[0] == 1
    assert Folder.objects.filter(pk=pk).exists()
    assert not Binder.all_objects.filter(pk=pk).exists()


def test_a_generic_relation_cascades_too():
    folder = Folder.objects.create(name="f")
    comment = Comment.objects.create(target=folder, text="c")
    other = Comment.objects.create(target=Folder.objects.create(name="other"), text="o")

    assert folder.delete() == (2, {"testapp.Folder": 1, "testapp.Comment": 1})

    assert Comment.all_objects.get(pk=comment.pk).is_deleted
    assert stored_history(comment)[-1]["cause"] == {"model": "testapp.folder", "pk": folder.pk}
    assert not Comment.all_objects.get(pk=other.pk).is_deleted
    folder.restore()
    assert not Comment.all_objects.get(pk=comment.pk).is_deleted


def test_async_code_deletes_and_restores():
    from asgiref.sync import async_to_sync

    folder = Folder.objects.create(name="f")

    assert async_to_sync(folder.adelete)() == (1, {"testapp.Folder": 1})
    assert async_to_sync(folder.arestore)() == 1
    assert [entry["action"] for entry in stored_history(folder)] == ["create", "delete", "restore"]
