"""The admin of a model built on TimestampedModel (importable from apps.core.admin_mixins).

    @admin.register(Invoice)
    class InvoiceAdmin(TimestampedAdminMixin, admin.ModelAdmin):
        list_display = ("number", "amount")

TimestampedAdminMixin (TrackableAdminMixin, from the audit room, plus soft delete) lists soft-deleted rows behind a
filter (DeletedListFilter), restores them with an action, and words deletion as what it is: the confirmation lists
what will be marked deleted (the row and its timestamped children) and says that it can be restored.
"""

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib import admin, messages
from django.contrib.admin import actions as admin_actions
from django.contrib.admin import options as admin_options
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import get_deleted_objects, quote
from django.contrib.auth import get_permission_codename
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..audit.admin.trackable import TrackableAdminMixin
from . import cascade
from .managers import TimestampedQuerySet

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices
    from django.contrib.admin.views.main import ChangeList
    from django_stubs_ext import StrOrPromise

__all__ = ["DeletedListFilter", "TimestampedAdminMixin"]

# Django 6.1 places actions on the change list or the change form; Django 5.2 has no ActionLocation.
_ActionLocation = getattr(admin_options, "ActionLocation", None)
_CHANGE_LIST: Any = _ActionLocation.CHANGE_LIST if _ActionLocation is not None else None


class DeletedListFilter(admin.SimpleListFilter):
    """Soft-deleted rows are hidden by default, as with the model's `objects`; "Deleted" and "All" show them."""

    title = _("deleted")
    parameter_name = "deleted"

    def lookups(
        self, request: HttpRequest, model_admin: "admin.ModelAdmin[Any]"
    ) -> Iterable[tuple[str, "StrOrPromise"]]:
        return (("yes", _("Deleted")), ("all", _("All")))

    def choices(self, changelist: "ChangeList") -> Iterator["_ListFilterChoices"]:
        value = self.value()
        yield {
            "selected": value is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("Not deleted"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: Any) -> TimestampedQuerySet:
        value = self.value()
        if value == "all":
            return queryset
        if value == "yes":
            return queryset.deleted()
        return queryset.alive()


class TimestampedAdminMixin(TrackableAdminMixin):
    """Every row is listed (the model's default manager sees deleted ones), not deleted ones by default (see
    DeletedListFilter), so deleted rows can be found, opened and restored. Deleting from the admin is the model's
    soft delete, and says so."""

    audit_fields: Sequence[str] = (
        "date_added",
        "created_by",
        "date_updated",
        "updated_by",
        "date_deleted",
        "history_table",
    )
    delete_confirmation_template: ClassVar[str | None] = "admin/core/soft_delete_confirmation.html"
    delete_selected_confirmation_template: ClassVar[str | None] = "admin/core/soft_delete_selected_confirmation.html"

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        return [DeletedListFilter, *super().get_list_filter(request)]

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        list_display = list(super().get_list_display(request))
        return list_display if "is_deleted" in list_display else [*list_display, "is_deleted"]

    @admin.display(description=_("deleted"), boolean=True, ordering="date_deleted")
    def is_deleted(self, obj: Any) -> bool:
        return obj.is_deleted

    def get_actions(self, request: HttpRequest, action_location: Any = _CHANGE_LIST) -> dict[str, Any]:
        """Adds "restore" (even when the admin names its own `actions`), and makes the delete action the soft one."""
        where: tuple[Any, ...] = () if action_location is None else (action_location,)
        actions = super().get_actions(request, *where)
        if self.actions is None or IS_POPUP_VAR in request.GET:
            return actions  # actions are off here
        if "delete_selected" in actions:
            actions["delete_selected"] = self.get_action("delete_selected", *where)
        restore = self.get_action("restore", *where) if self.has_change_permission(request) else None
        if restore is not None:
            actions["restore"] = restore
        return actions

    @admin.action(description=_("Delete selected %(verbose_name_plural)s (can be restored)"), permissions=["delete"])
    def delete_selected(self, request: HttpRequest, queryset: TimestampedQuerySet) -> HttpResponse | None:
        return admin_actions.delete_selected(self, request, queryset)

    @admin.action(description=_("Restore selected %(verbose_name_plural)s"), permissions=["change"])
    def restore(self, request: HttpRequest, queryset: TimestampedQuerySet) -> None:
        rows = list(queryset.deleted())
        restored = queryset.restore()
        for obj in rows:
            self.log_change(request, obj, _("Restored."))
        opts = self.model._meta
        self.message_user(
            request,
            ngettext("Restored %(count)d %(name)s.", "Restored %(count)d %(name_plural)s.", restored)
            % {"count": restored, "name": opts.verbose_name, "name_plural": opts.verbose_name_plural},
            messages.SUCCESS if restored else messages.WARNING,
        )

    def get_deleted_objects(
        self, objs: Iterable[models.Model], request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        """What deleting `objs` marks deleted: the rows and their timestamped CASCADE children. PROTECT and RESTRICT
        are found as for a real delete, which the soft one refuses alike."""
        objs = list(objs)
        _real, _counts, _perms, protected = get_deleted_objects(objs, request, self.admin_site)
        using = objs[0]._state.db if objs else None
        tree = cascade.preview(objs, using or "default")
        model_count: dict[str, int] = {}
        perms_needed: set[str] = set()
        listed = self._listed(tree, request, model_count, perms_needed)
        return listed, model_count, perms_needed, protected

    def _listed(self, tree, request, model_count, perms_needed):
        """The admin's nested list of `tree`, counting rows per model and the delete permissions lacking."""
        listed = []
        for item in tree:
            if isinstance(item, list):
                listed.append(self._listed(item, request, model_count, perms_needed))
                continue
            opts = item._meta
            name = opts.verbose_name_plural
            model_count[name] = model_count.get(name, 0) + 1
            if self.admin_site.is_registered(type(item)):
                codename = get_permission_codename("delete", opts)
                if not request.user.has_perm(f"{opts.app_label}.{codename}"):
                    perms_needed.add(opts.verbose_name)
            listed.append(_object_link(self.admin_site, item))
        return listed


def _object_link(admin_site, obj):
    opts = obj._meta
    try:
        url = reverse(f"{admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
    except NoReverseMatch:
        return format_html("{}: {}", capfirst(opts.verbose_name), obj)
    return format_html('{}: <a href="{}">{}</a>', capfirst(opts.verbose_name), url, obj)
