"""ModelAdmin mixins for models built on TrackableModel and TimestampedModel.

    @admin.register(Invoice)
    class InvoiceAdmin(TimestampedAdminMixin, admin.ModelAdmin):
        list_display = ("number", "amount")

TrackableAdminMixin shows the audit fields read-only and the history as a table on the change page.
TimestampedAdminMixin (which includes it) also lists soft-deleted rows behind a filter, restores them with an
action, and words deletion as what it is: a soft delete that can be undone.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

__all__ = ["DeletedListFilter", "TimestampedAdminMixin", "TrackableAdminMixin"]

# Long values (a text field, a JSON document) are cut to this many characters in the history table.
HISTORY_VALUE_MAX_CHARS = 200

ACTION_LABELS = {
    "create": _("Created"),
    "update": _("Changed"),
    "delete": _("Deleted"),
    "restore": _("Restored"),
}


class TrackableAdminMixin:
    """Audit fields are shown read-only in an "Audit trail" section of the change page, with the history rendered
    as a table, oldest change first. They are left out of the add page, where there is nothing to show yet."""

    audit_fields = ("created_at", "created_by", "updated_at", "updated_by", "history_table")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, *(name for name in self.audit_fields if name not in readonly)]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (title, {**options, "fields": _without(options["fields"], self.audit_fields)})
            for title, options in super().get_fieldsets(request, obj)
        ]
        if obj is not None:
            fieldsets.append((_("Audit trail"), {"fields": self.audit_fields}))
        return fieldsets

    @admin.display(description=_("history"))
    def history_table(self, obj):
        entries = obj.history or []
        if not entries:
            return self.get_empty_value_display()
        rows = format_html_join(
            "\n",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _format_at(entry.get("at")),
                    entry.get("by_name") or self.get_empty_value_display(),
                    ACTION_LABELS.get(entry.get("action"), entry.get("action", "")),
                    self._changes_list(obj, entry.get("changes") or {}),
                )
                for entry in entries
            ),
        )
        return format_html(
            '<table class="history-table"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            _("When"),
            _("Who"),
            _("Action"),
            _("Changes"),
            rows,
        )

    def _changes_list(self, obj, changes):
        if not changes:
            return self.get_empty_value_display()
        # Inline style: the admin's form CSS indents every list inside an aligned fieldset by the label's width.
        return format_html(
            '<ul style="margin: 0; padding-left: 0; list-style: none">{}</ul>',
            format_html_join(
                "",
                "<li><strong>{}</strong>: {} &rarr; {}</li>",
                (
                    (
                        _field_label(obj, name),
                        self._format_value(change.get("old")),
                        self._format_value(change.get("new")),
                    )
                    for name, change in changes.items()
                ),
            ),
        )

    def _format_value(self, value):
        if value is None:
            return self.get_empty_value_display()
        text = value if isinstance(value, str) and value else json.dumps(value, ensure_ascii=False)
        return Truncator(text).chars(HISTORY_VALUE_MAX_CHARS)


class DeletedListFilter(admin.SimpleListFilter):
    """Soft-deleted rows are hidden by default, as with the model's `objects`; "Deleted" and "All" show them."""

    title = _("deleted")
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return (("yes", _("Deleted")), ("all", _("All")))

    def choices(self, changelist):
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

    def queryset(self, request, queryset):
        value = self.value()
        if value == "all":
            return queryset
        if value == "yes":
            return queryset.deleted()
        return queryset.alive()


class TimestampedAdminMixin(TrackableAdminMixin):
    """Lists every row through `all_objects` (not deleted ones by default, see DeletedListFilter), so deleted rows
    can be found, opened and restored. Deleting from the admin is the model's soft delete, and is labelled so."""

    audit_fields = (
        "date_added",
        "created_by",
        "date_updated",
        "updated_by",
        "date_deleted",
        "history_table",
    )

    def get_queryset(self, request):
        queryset = self.model.all_objects.get_queryset()
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_list_filter(self, request):
        return [DeletedListFilter, *super().get_list_filter(request)]

    def get_list_display(self, request):
        list_display = list(super().get_list_display(request))
        return list_display if "is_deleted" in list_display else [*list_display, "is_deleted"]

    @admin.display(description=_("deleted"), boolean=True, ordering="date_deleted")
    def is_deleted(self, obj):
        return obj.is_deleted

    def get_actions(self, request):
        """Adds "restore" (even when the admin sets its own `actions`) and labels the delete action as soft."""
        actions = super().get_actions(request)
        if self.actions is None or IS_POPUP_VAR in request.GET:
            return actions
        if "restore" not in actions and self.has_change_permission(request):
            actions["restore"] = self.get_action("restore")
        if "delete_selected" in actions:
            function, name, _description = actions["delete_selected"]
            actions["delete_selected"] = (
                function,
                name,
                _("Delete selected %(verbose_name_plural)s (can be restored)"),
            )
        return actions

    def get_deleted_objects(self, objs, request):
        """A soft delete cascades to nothing: the confirmation page lists only the rows being marked deleted."""
        objs = list(objs)
        opts = self.model._meta
        perms_needed = set() if self.has_delete_permission(request) else {opts.verbose_name}
        model_count = {opts.verbose_name_plural: len(objs)} if objs else {}
        return [str(obj) for obj in objs], model_count, perms_needed, []

    def delete_view(self, request, object_id, extra_context=None):
        extra_context = {
            "title": _("Are you sure? The row is only marked deleted and can be restored."),
            **(extra_context or {}),
        }
        return super().delete_view(request, object_id, extra_context)

    @admin.action(description=_("Restore selected %(verbose_name_plural)s"), permissions=["change"])
    def restore(self, request, queryset):
        restored = queryset.restore()
        self.message_user(
            request,
            ngettext("Restored %(count)d row.", "Restored %(count)d rows.", restored) % {"count": restored},
            messages.SUCCESS,
        )


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


def _format_at(value):
    """The entry's time in the current time zone, to the second: changes often come less than a minute apart."""
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        return value or ""
    return date_format(timezone.localtime(moment), "Y-m-d H:i:s T")


def _field_label(obj, name):
    """The field's verbose name; the raw name for a field the model no longer has (old entries outlive fields)."""
    try:
        return capfirst(obj._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name
