"""The admin's "Deleted rows" of an audited model: rows deleted for real, read from the archive, and recovered.

`DeletedRowsAdminMixin` (part of TrackableAdminMixin, apps/core/admin_mixins.py) adds two pages to a model's admin:

- `deleted-rows/`: the model's rows deleted for real, newest first, with who deleted them and when (needs the
  model's view or change permission);
- `deleted-rows/<record>/`: one of them: its last values, its history (archive and row as one, newest first, a
  page at a time), and a "Recover" button that creates the row again from its last values, its history continuing
  with a "recover" entry (needs the model's add permission). A recover that cannot be done (a unique value taken
  since, the row back already) is explained on the page, and creates nothing.
"""

import json
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import entries
from ..archive import ArchivedHistory
from ..expressions import HistoryEntries
from ..recovery import instance_from, recover, recoverable
from .history import HISTORY_VALUE_MAX_CHARS, field_label, render_entries

if TYPE_CHECKING:
    from django.contrib import admin

    # The admin mixins are written for ModelAdmin subclasses: mypy checks them as one.
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _ModelAdminBase = object

__all__ = ["DeletedRowsAdminMixin"]


class DeletedRowsAdminMixin(_ModelAdminBase):
    deleted_rows_page_size = 100

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        view = self.admin_site.admin_view
        return [
            path(
                "deleted-rows/",
                view(self.deleted_rows_view),
                name=f"{opts.app_label}_{opts.model_name}_deleted_rows",
            ),
            path(
                "deleted-rows/<int:record_id>/",
                view(self.deleted_row_view),
                name=f"{opts.app_label}_{opts.model_name}_deleted_row",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The change list links to the deleted rows, for those who may see them."""
        if self.has_view_or_change_permission(request):
            opts = self.model._meta
            extra_context = {
                **(extra_context or {}),
                "deleted_rows_url": reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_deleted_rows"),
            }
        return super().changelist_view(request, extra_context)

    def deleted_rows_view(self, request: HttpRequest) -> HttpResponse:
        """The model's rows deleted for real, newest first, a page at a time."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        records = _records(self.model).filter(deleted=True).order_by("-id").defer("entries")
        page = Paginator(records, self.deleted_rows_page_size).get_page(request.GET.get("page"))
        rows = [
            {"record": record, "url": self._row_url(record), "by": by, "at": at}
            for record in page
            for by, at in [_deletion(record)]
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Deleted %(name)s") % {"name": self.model._meta.verbose_name_plural},
            "subtitle": None,
            "opts": self.model._meta,
            "page": page,
            "rows": rows,
        }
        return TemplateResponse(request, "admin/core/deleted_rows.html", context)

    def deleted_row_view(self, request: HttpRequest, record_id: int) -> HttpResponse:
        """One deleted row: its last values and history; POST recovers it."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            record = _records(self.model).get(pk=record_id, deleted=True)
        except ArchivedHistory.DoesNotExist:
            raise Http404(_("No deleted row with this id.")) from None
        can_recover = self.has_add_permission(request) and recoverable(record, self.model)
        error = None
        if request.method == "POST":
            if not self.has_add_permission(request):
                raise PermissionDenied
            try:
                obj = recover(record, self.model)
            except ValidationError as problem:
                error = " ".join(problem.messages)
            except IntegrityError as problem:  # a clash the validation could not foresee (a concurrent write)
                error = _("The row could not be created again: %(problem)s") % {"problem": problem}
            else:
                self.log_addition(request, obj, gettext("Recovered from the archive."))
                self.message_user(request, _("Recovered %(obj)s.") % {"obj": obj}, messages.SUCCESS)
                opts = self.model._meta
                return HttpResponseRedirect(
                    reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
                )
        obj = instance_from(record, self.model)
        history = self.model.history_of(record.object_pk, using=record._state.db)
        total = len(history)
        page = Paginator(range(total), self.deleted_rows_page_size).get_page(request.GET.get("page"))
        stop = total - (page.start_index() - 1) if total else 0
        shown = list(reversed(history[max(stop - self.deleted_rows_page_size, 0) : stop]))
        by, at = _deletion(record)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Deleted %(name)s: %(row)s")
            % {"name": self.model._meta.verbose_name, "row": record.object_repr},
            "subtitle": None,
            "opts": self.model._meta,
            "record": record,
            "deleted_by": by,
            "deleted_at": at,
            "values": _values(self.model, record),
            "page": page,
            "table": render_entries(self, obj, shown),  # the history table, as the change page draws it
            "can_recover": can_recover,
            "error": error,
            "list_url": reverse(
                f"{self.admin_site.name}:{self.model._meta.app_label}_{self.model._meta.model_name}_deleted_rows"
            ),
        }
        return TemplateResponse(request, "admin/core/deleted_row.html", context, status=400 if error else 200)

    def _row_url(self, record):
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_deleted_row", args=[record.pk])


def _records(model):
    return ArchivedHistory.objects.filter(model_label=model._meta.label_lower)


def _deletion(record):
    """(who, when) of the record's delete entry: its last entry of that action (a redaction may follow it)."""
    for entry in reversed(record.entries if "entries" in record.__dict__ else _last_entries(record)):
        if isinstance(entry, dict) and entry.get("action") == entries.DELETE:
            return entry.get("by_name"), parse_datetime(entry.get("at") or "")
    return None, record.last_at


def _last_entries(record):
    """The last few entries of a record whose entries were not loaded, cut out by the database."""
    rows = ArchivedHistory.objects.using(record._state.db).filter(pk=record.pk)
    window = rows.annotate(_last=HistoryEntries("entries", max(record.entry_count - 3, 0), record.entry_count))
    return window.values_list("_last", flat=True).first() or []


def _values(model, record):
    """[(label, value)] of the record's last values, as the history table shows values."""
    stored = record.values or {}
    return [(field_label(model, name), _format_value(value)) for name, value in stored.items()]


def _format_value(value):
    """A value as text (JSON but for strings), cut to HISTORY_VALUE_MAX_CHARS."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return Truncator(text).chars(HISTORY_VALUE_MAX_CHARS)
