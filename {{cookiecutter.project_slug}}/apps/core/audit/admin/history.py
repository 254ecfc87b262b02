"""The admin's pages for histories: the history table (each change as old -> new), the full-history page with its
filters, "Revert to before this change" (a confirmation, then the revert, logged), and the Activity page (the latest
changes across every audited model the staff user may view).

TrackableAdminMixin (apps/core/admin_mixins.py) wires the per-row pages into each ModelAdmin; the Activity page is one
URL of the project's admin (config/urls.py routes `<admin>/activity/` to `activity_view`).

Entries that are not what the audit trail writes (planted by hand-written SQL or an old data migration: a string, an
object without "changes") are shown as unreadable, never an error.
"""

import datetime
import json
from collections.abc import Sequence
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.safestring import SafeString
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import entries
from ..current_user import current_request
from ..erasure import REDACT
from ..feed import Activity, EntryFilter, audited_models
from ..reads import entry_moment, readable
from ..recovery import RECOVER
from ..retention import PRUNE
from ..revert import revertable_fields

# Values longer than this (or of more lines) are folded: the first line shows, the rest opens on a click.
HISTORY_VALUE_MAX_CHARS = 200
HISTORY_VALUE_MAX_LINES = 8

# Entries per page of the Activity page.
ACTIVITY_PAGE_SIZE = 100


# What each action is called (also importable as apps.core.admin_mixins.ACTION_LABELS).
ACTION_LABELS = {
    entries.CREATE: _("Created"),
    entries.UPDATE: _("Changed"),
    entries.DELETE: _("Deleted"),
    entries.RESTORE: _("Restored"),
    entries.REVERT: _("Reverted"),
    RECOVER: _("Recovered"),
    PRUNE: _("Pruned"),
    REDACT: _("Redacted"),
}


# --- the history table -------------------------------------------------------------------------------------------


def render_entries(
    model_admin: Any, obj: models.Model, shown: list[Any], first_index: int | None = None
) -> SafeString:
    """The history table of `shown` (entries of `obj`, newest first; the first is entry `first_index` of its
    history, when known: then each change the staff user may undo has a "Revert to before this change" link)."""
    excluded = entries.excluded_names(type(obj))
    request = current_request()
    can_revert = first_index is not None and request is not None and model_admin.has_change_permission(request, obj)
    revertable = revertable_fields(type(obj))
    labels = ACTION_LABELS
    rows: list[dict[str, Any]] = []
    for offset, entry in enumerate(shown):
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", {}), dict):
            rows.append({"unreadable": True, "raw": _value(entry)})
            continue
        index = None if first_index is None else first_index - offset
        changes = entry.get("changes") or {}
        rows.append(
            {
                "at": format_at(entry.get("at")),
                "by": entry.get("by_name"),
                "action": labels.get(str(entry.get("action")), entry.get("action", "")),
                "cause": cause_text(entry.get("cause")),
                "changes": [
                    {
                        "field": field_label(obj, name),
                        "old": _value(change.get("old")),
                        "new": _value(change.get("new")),
                    }
                    for name, change in changes.items()
                    if name not in excluded and isinstance(change, dict) and not empty_creation(entry, change)
                ],
                "revert_url": _revert_url(model_admin, obj, index)
                if can_revert
                and index
                and entry.get("action") in (entries.UPDATE, entries.REVERT)
                and any(name in revertable for name in changes)
                else None,
            }
        )
    return render_to_string(
        "admin/core/history_table.html", {"rows": rows, "empty": model_admin.get_empty_value_display()}
    )


def _revert_url(model_admin: Any, obj: models.Model, index: int) -> str:
    opts = obj._meta
    return reverse(
        f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_revert", args=[quote(obj.pk), index]
    )


def _value(value: Any) -> dict[str, Any] | None:
    """A value as the table shows it: text (JSON pretty-printed), folded when long."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, indent=2 if isinstance(value, (dict, list)) else None)
    lines = text.splitlines() or [""]
    folded = len(text) > HISTORY_VALUE_MAX_CHARS or len(lines) > HISTORY_VALUE_MAX_LINES
    return {"text": text, "folded": folded, "summary": Truncator(lines[0]).chars(80) if folded else text}


def empty_creation(entry: dict[str, Any], change: dict[str, Any]) -> bool:
    """A create entry lists every tracked field; the empty ones say nothing."""
    return entry.get("action") == entries.CREATE and change.get("new") in (None, "", [], {})


def format_at(value: Any) -> str:
    """The entry's time as the admin shows dates: in the current time zone, in the DATETIME_FORMAT."""
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        return value if isinstance(value, str) else ""
    return formats.localize(timezone.template_localtime(moment))  # type: ignore[attr-defined]  # not in django-stubs


def cause_text(cause: Any) -> str | None:
    """Why a row was deleted or restored along with another: "with folder 7"."""
    if not isinstance(cause, dict):
        return None
    try:
        name = apps.get_model(cause["model"])._meta.verbose_name
    except (KeyError, LookupError, ValueError):
        name = cause.get("model")
    return gettext("with %(model)s %(pk)s") % {"model": name, "pk": cause.get("pk")}


def field_label(obj: Any, name: str) -> str:
    """The field's verbose name; the raw name for a field the model no longer has (old entries outlive fields)."""
    try:
        return capfirst(obj._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def whole_history(obj: models.Model) -> Any:
    """The row's whole history (archived entries and its own, as one sequence read a page at a time) when the model
    has `history_of()`; else the row's own."""
    history_of = getattr(type(obj), "history_of", None)
    return history_of(obj.pk, using=obj._state.db) if history_of is not None else obj.history  # type: ignore[attr-defined]


def newest_first(history: Any, start: int, size: int) -> list[Any]:
    """At most `size` entries of `history`, newest first from the `start`-th newest."""
    stop = len(history) - start
    return list(reversed(history[max(stop - size, 0) : stop]))


# --- filters -----------------------------------------------------------------------------------------------------


class HistoryFilterForm(forms.Form):
    """Who, what and when: the filters of the full-history page and of the Activity page."""

    user = forms.CharField(label=_("User"), required=False, help_text=_("A username or a user id."))
    action = forms.ChoiceField(label=_("Action"), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("Any")), *ACTION_LABELS.items()]  # type: ignore[attr-defined]

    def clean_user(self) -> Any:
        value = self.cleaned_data["user"].strip()
        if not value:
            return None
        User = get_user_model()
        user = User._default_manager.filter(**{User.USERNAME_FIELD: value}).first()
        if user is None:
            try:
                user = User._default_manager.filter(pk=User._meta.pk.to_python(value)).first()
            except ValidationError:
                user = None
        if user is None:
            raise ValidationError(gettext("No user is called %(value)s.") % {"value": value})
        return user

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            raise ValidationError(gettext("The end date is before the start date."))
        return cleaned

    @property
    def active(self) -> bool:
        return self.is_bound and self.is_valid() and any(self.cleaned_data.values())

    def matches(self, entry: Any) -> bool:
        """Whether one entry passes the filters (for a single row's history, read in Python)."""
        if not readable(entry):
            return False
        spec, action = self.spec(), self.cleaned_data.get("action")
        at = entry_moment(entry)
        return (
            (spec.anyone or entry.get("by") == spec.by)
            and (not action or entry["action"] == action)
            and (spec.since is None or at >= spec.since)  # type: ignore[operator]
            and (spec.until is None or at < spec.until)  # type: ignore[operator]
        )

    def spec(self) -> EntryFilter:
        """The entries the filters select (days in the current time zone, the end date included)."""
        data = self.cleaned_data
        user = data.get("user")
        return EntryFilter.of(
            user,
            _day_start(data["since"]) if data.get("since") else None,
            _day_start(data["until"] + datetime.timedelta(days=1)) if data.get("until") else None,
            anyone=user is None,
        )


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class _Filtered:
    """The entries of an Activity with a given action, as a sequence the Paginator can page (action is filtered
    in Python: the rarer filters are user and dates, which the database applies)."""

    def __init__(self, feed: Activity, action: str | None) -> None:
        self.feed, self.action = feed, action
        self._items: list[dict[str, Any]] | None = None

    def _all(self) -> list[dict[str, Any]]:
        if self._items is None:
            self._items = [item for item in self.feed if self.action in (None, "", item.get("action"))]
        return self._items

    def count(self) -> int:
        return len(self.feed) if not self.action else len(self._all())

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: Any) -> Any:
        return self.feed[index] if not self.action else self._all()[index]


# --- the full-history page ---------------------------------------------------------------------------------------


def audit_trail_view(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    """Every entry of one row's history, newest first, a page at a time; filtered by user, action and dates."""
    obj = model_admin.get_object(request, unquote(object_id))
    opts = model_admin.model._meta
    if obj is None:
        return model_admin._get_obj_does_not_exist_redirect(request, opts, object_id)
    if not model_admin.has_view_or_change_permission(request, obj):
        raise PermissionDenied
    history = whole_history(obj)
    form = HistoryFilterForm(request.GET or None)
    if form.active:
        # Filtered in Python, over the whole history (archived part included): a row's history, not a table's.
        found = [(index, entry) for index, entry in enumerate(history) if form.matches(entry)]
        found.reverse()
        paginator: Paginator[Any] = Paginator(found, model_admin.history_page_size)
        page = paginator.get_page(request.GET.get("page"))
        parts = [render_entries(model_admin, obj, [entry], first_index=index) for index, entry in page.object_list]
        table = SafeString(_merge_tables(parts)) if parts else render_entries(model_admin, obj, [])
    else:
        total = len(history)
        paginator = Paginator(range(total), model_admin.history_page_size)
        page = paginator.get_page(request.GET.get("page"))
        start = page.start_index() - 1 if total else 0
        shown = newest_first(history, start, model_admin.history_page_size) if total else []
        table = render_entries(model_admin, obj, shown, first_index=total - 1 - start)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("History of %(object)s") % {"object": obj},
        "subtitle": None,
        "opts": opts,
        "object": obj,
        "page": page,
        "table": table,
        "form": form,
        "filtered": form.active,
        "query": query.urlencode(),
        "activity_url": _activity_url(),
    }
    return TemplateResponse(request, "admin/core/audit_trail.html", context)


def _merge_tables(tables: Sequence[str]) -> str:
    """One table of the rows of several tables rendered by history_table.html."""
    head = tables[0].partition("<tbody>")[0]
    rows = [table.partition("<tbody>")[2].rpartition("</tbody>")[0] for table in tables]
    return f"{head}<tbody>{''.join(rows)}</tbody>\n</table>\n"


def _table_model(model: type[models.Model]) -> type[models.Model]:
    """The audited model whose table holds `model`'s history (a multi-table child's parent)."""
    return next(candidate for candidate in audited_models() if issubclass(model, candidate))


# --- revert --------------------------------------------------------------------------------------------------------


def revert_view(model_admin: Any, request: HttpRequest, object_id: str, index: int) -> HttpResponse:
    """ "Revert to before this change": a confirmation listing what will change, then the revert, logged."""
    obj = model_admin.get_object(request, unquote(object_id))
    opts = model_admin.model._meta
    if obj is None:
        return model_admin._get_obj_does_not_exist_redirect(request, opts, object_id)
    if not model_admin.has_change_permission(request, obj):
        raise PermissionDenied
    change_url = reverse(
        f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)]
    )
    history = whole_history(obj)
    if not 0 < index < len(history):
        messages.error(request, gettext("There is no change %(index)s to revert.") % {"index": index})
        return HttpResponseRedirect(change_url)
    revertable = revertable_fields(type(obj))
    current = history.diff(-1, index - 1)
    changes = [
        {
            "field": field_label(obj, name),
            "old": _value(_json(obj, name, values["old"])),
            "new": _value(_json(obj, name, values["new"])),
        }
        for name, values in current.items()
        if name in revertable
    ]
    if request.method == "POST":
        try:
            reverted = history.revert_to(index - 1)
        except (ValidationError, ValueError) as error:
            for message in _messages(error):
                messages.error(request, message)
            return HttpResponseRedirect(change_url)
        entry = history[index]
        model_admin.log_change(
            request,
            obj,
            gettext("Reverted to before the change of %(at)s.") % {"at": format_at(entry.get("at"))},
        )
        messages.success(
            request, gettext("%(object)s was reverted to before that change.") % {"object": capfirst(str(reverted))}
        )
        return HttpResponseRedirect(change_url)
    entry = history[index]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Revert %(object)s?") % {"object": obj},
        "subtitle": None,
        "opts": opts,
        "object": obj,
        "change_at": format_at(entry.get("at") if isinstance(entry, dict) else None),
        "change_by": entry.get("by_name") if isinstance(entry, dict) else None,
        "changes": changes,
        "empty": model_admin.get_empty_value_display(),
        "change_url": change_url,
    }
    return TemplateResponse(request, "admin/core/revert_confirmation.html", context)


def _json(obj: models.Model, name: str, value: Any) -> Any:
    """A value as the history records it, for showing."""
    try:
        field = obj._meta.get_field(name)
    except FieldDoesNotExist:
        return value
    return entries.stored_form(field, value) if isinstance(field, models.Field) and field.concrete else value


def _messages(error: Exception) -> list[str]:
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            return [f"{name}: {message}" for name, errors in error.message_dict.items() for message in errors]
        return list(error.messages)
    return [str(error)]


# --- the Activity page -------------------------------------------------------------------------------------------


def viewable_models(request: HttpRequest, site: admin.AdminSite) -> list[type[models.Model]]:
    """The audited models registered on `site` whose rows the staff user may view, by verbose name."""
    audited = audited_models()
    found = []
    for model, model_admin in site._registry.items():
        if any(issubclass(model, candidate) for candidate in audited) and model_admin.has_view_or_change_permission(
            request
        ):
            found.append(model)
    return sorted(found, key=lambda model: str(model._meta.verbose_name_plural))


class ActivityFilterForm(HistoryFilterForm):
    model = forms.ChoiceField(label=_("Model"), required=False)

    def __init__(self, *args: Any, models: list[type[models.Model]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.models = {model._meta.label_lower: model for model in models}
        self.fields["model"].choices = [  # type: ignore[attr-defined]
            ("", _("Any")),
            *((label, capfirst(model._meta.verbose_name_plural)) for label, model in self.models.items()),
        ]

    @property
    def active(self) -> bool:
        return self.is_bound and self.is_valid()


def activity_view(request: HttpRequest, site: admin.AdminSite | None = None) -> HttpResponse:
    """The latest changes across every audited model the staff user may view, filterable by user, model, action
    and dates, a page at a time."""
    site = site or admin.site
    models_shown = viewable_models(request, site)
    form = ActivityFilterForm(request.GET or None, models=models_shown)
    chosen = models_shown
    action = None
    if form.active:
        if form.cleaned_data.get("model"):
            chosen = [form.models[form.cleaned_data["model"]]]
        action = form.cleaned_data.get("action") or None
        spec = form.spec()
    else:
        spec = EntryFilter.of(anyone=True)
    feed = Activity([_table_model(model) for model in chosen], spec) if chosen else None
    by_table = {_table_model(model)._meta.label_lower: model for model in reversed(chosen)}
    pages: Any = _Filtered(feed, action) if feed is not None else []
    paginator: Paginator[Any] = Paginator(pages, ACTIVITY_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    rows = [_activity_row(site, by_table, item) for item in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        **site.each_context(request),
        "title": _("Activity"),
        "subtitle": None,
        "form": form,
        "rows": rows,
        "page": page,
        "query": query.urlencode(),
        "empty": "-",
    }
    return TemplateResponse(request, "admin/core/activity.html", context)


def _activity_row(site: admin.AdminSite, by_table: dict[str, type[models.Model]], item: dict[str, Any]) -> dict:
    model = by_table.get(item["model"]) or apps.get_model(item["model"])
    opts = model._meta
    try:
        url = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(item["pk"])])
    except NoReverseMatch:
        url = None
    excluded = entries.excluded_names(model)  # type: ignore[arg-type]  # a model class is hashable
    return {
        "at": format_at(item.get("at")),
        "by": item.get("by_name"),
        "action": ACTION_LABELS.get(str(item.get("action")), item.get("action", "")),
        "model": capfirst(opts.verbose_name),
        "pk": item["pk"],
        "url": url,
        "changes": [
            {"field": field_label(model, name), "old": _value(change.get("old")), "new": _value(change.get("new"))}
            for name, change in (item.get("changes") or {}).items()
            if name not in excluded and isinstance(change, dict) and not empty_creation(item, change)
        ],
    }


def _activity_url() -> str | None:
    try:
        return reverse("admin-activity")
    except NoReverseMatch:
        return None


__all__ = ["ACTION_LABELS", "activity_view", "audit_trail_view", "render_entries", "revert_view"]
