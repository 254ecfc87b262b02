"""TrackableAdminMixin: the admin of a model built on TrackableModel (importable from apps.core.admin_mixins).

    @admin.register(Invoice)
    class InvoiceAdmin(TrackableAdminMixin, admin.ModelAdmin):
        list_display = ("number", "amount")

It shows the audit fields read-only and the latest changes as a table on the change page, with a link to the full
history, page by page (history.py), and the change list's "Deleted rows" (deleted_rows.py). Both read only the
entries they show: the database cuts them out of the history, so a row with ten thousand changes opens as fast as a
row with ten.
"""

from collections.abc import Sequence
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import history as history_admin
from .deleted_rows import DeletedRowsAdminMixin
from .history import render_entries

__all__ = ["TrackableAdminMixin"]


class TrackableAdminMixin(DeletedRowsAdminMixin):
    """Audit fields are read-only, in an "Audit trail" section of the change page (not on the add page, where there
    is nothing to show yet). The history shows its latest entries there, newest first; the full history is a page
    of its own, read from the archive and the row as one. Rows deleted for real are listed, and recovered, from the
    change list's "Deleted rows" (see deleted_rows.py)."""

    change_list_template = "admin/core/change_list.html"  # the change list with its "Deleted rows" link

    audit_fields: Sequence[str] = ("created_at", "created_by", "updated_at", "updated_by", "history_table")
    history_table_size = 50
    history_page_size = 100

    def get_readonly_fields(self, request: HttpRequest, obj: models.Model | None = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, *(name for name in self.audit_fields if name not in readonly)]

    def get_fieldsets(self, request: HttpRequest, obj: models.Model | None = None) -> list[Any]:
        fieldsets = [
            (title, {**options, "fields": _without(options["fields"], self.audit_fields)})
            for title, options in super().get_fieldsets(request, obj)
        ]
        if obj is not None:
            fieldsets.append((_("Audit trail"), {"fields": self.audit_fields}))
        return fieldsets

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/audit-trail/",
                self.admin_site.admin_view(self.audit_trail_view),
                name=f"{opts.app_label}_{opts.model_name}_audit_trail",
            ),
            path(
                "<path:object_id>/audit-trail/<int:index>/revert/",
                self.admin_site.admin_view(self.revert_view),
                name=f"{opts.app_label}_{opts.model_name}_revert",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("history"))
    def history_table(self, obj: models.Model) -> str:
        history = _history(obj)
        total = len(history)
        if not total:
            return self.get_empty_value_display()
        shown = _history_page(history, total, 0, self.history_table_size)
        table = render_entries(self, obj, shown, first_index=total - 1)
        if total <= len(shown):
            return table
        url = reverse(
            f"{self.admin_site.name}:{obj._meta.app_label}_{obj._meta.model_name}_audit_trail", args=[quote(obj.pk)]
        )
        return format_html(
            "{}<p>{} <a href='{}'>{}</a></p>",
            table,
            _("The latest %(shown)d of %(total)d changes.") % {"shown": len(shown), "total": total},
            url,
            _("See the full history"),
        )

    def audit_trail_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Every entry of one row's history, newest first, a page at a time, with filters (see history.py)."""
        return history_admin.audit_trail_view(self, request, object_id)

    def revert_view(self, request: HttpRequest, object_id: str, index: int) -> HttpResponse:
        """The "Revert to before this change" page of entry `index`: a confirmation, then the revert."""
        return history_admin.revert_view(self, request, object_id, index)


def _history_page(history, total, start, size):
    """At most `size` entries of a history of `total`, newest first from the `start`-th newest, cut out by the
    database."""
    stop = total - start
    return list(reversed(history[max(stop - size, 0) : stop]))


def _history(obj):
    """The row's whole history, its archived entries and its own as one sequence read a page at a time."""
    return type(obj).history_of(obj.pk, using=obj._state.db)


def _without(fields, excluded):
    """A fieldset's field list (whose items may be tuples shown on one line) without the `excluded` names."""
    kept = []
    for item in fields:
        if isinstance(item, (list, tuple)):
            line = tuple(name for name in item if name not in excluded)
            if line:
                kept.append(line)
        elif item not in excluded:
            kept.append(item)
    return kept
