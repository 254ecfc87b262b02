"""The history trail of a TrackableModel: which fields it tracks, the form in which values are recorded, the diff
that turns two sets of values into the changes of an entry, and the entry itself.

An entry looks like::

    {
        "at": "2026-11-26T10:00:00.123456+00:00",
        "by": 7,
        "by_name": "alice",
        "action": "update",
        "changes": {
            "title": {"old": "a", "new": "b"},
        },
    }

("at" is ISO-8601 in UTC; "by" and "by_name" are null when nobody is acting; a "create" entry lists every tracked
field with old null; a "delete" cascaded from another row's deletion also has "cause": {"model": ..., "pk": ...}; "ctx" says which
request, task or command made the change, when known (context.py); a "revert" entry has "reverted_to": {"at": ...,
"index": ...}.)

Every value that enters an entry, "by" included, goes through `to_json()`, and every field value first through
`stored_form()`: the value as the database stores it, so that `1` and `True`, or `Decimal("1.5")` and "1.50" in a
two-place DecimalField, compare as the database would see them.
"""

import base64
import datetime
import decimal
import enum
import functools
import json
import math
import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.duration import duration_iso_string
from django.utils.functional import Promise

from .context import current_context

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

CREATE, UPDATE, DELETE, RESTORE = "create", "update", "delete", "restore"
REVERT = "revert"  # an update that put fields back to an earlier point (see revert.py); it names the point

_JSON_SCALARS = (str, int, float, bool, type(None))

# Built-in fields that store a value of this exact type as it is (a bool in an IntegerField is not one of them).
_NATURAL_TYPES = {
    **dict.fromkeys(
        (
            models.IntegerField,
            models.BigIntegerField,
            models.SmallIntegerField,
            models.PositiveIntegerField,
            models.PositiveBigIntegerField,
            models.PositiveSmallIntegerField,
            models.ForeignKey,
            models.OneToOneField,
        ),
        int,
    ),
    **dict.fromkeys((models.CharField, models.TextField, models.SlugField, models.EmailField), str),
    models.BooleanField: bool,
}


@functools.cache
def excluded_names(model: type[models.Model]) -> frozenset[str]:
    """`history_exclude` of the model and of every class it inherits from: a subclass can add names, never drop one."""
    names: set[str] = set()
    for klass in model.__mro__:
        names.update(klass.__dict__.get("history_exclude", ()))
    return frozenset(names)


@functools.cache
def tracked_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    """Concrete fields whose changes enter the history: not the key, the bookkeeping, the excluded ones, nor fields
    Django itself stamps on every save (auto_now, auto_now_add), which would only repeat `updated_at`."""
    untracked = {*getattr(model, "history_bookkeeping_fields", ()), *excluded_names(model)}
    return tuple(
        field
        for field in model._meta.concrete_fields
        if not field.primary_key
        and not field.generated
        and field.name not in untracked
        and field.attname not in untracked
        and not getattr(field, "auto_now", False)
        and not getattr(field, "auto_now_add", False)
    )


def tracked_among(model: type[models.Model], names: Collection[str] | None) -> tuple[models.Field, ...]:
    """The tracked fields of `model` that `names` lists, by name or attname, as Django takes either in
    `update_fields`; every tracked field when `names` is None."""
    fields = tracked_fields(model)
    if names is None:
        return fields
    return tuple(field for field in fields if field.name in names or field.attname in names)


def stored_form(field: models.Field, value: Any, vendor: str | None = None) -> Any:
    """The JSON-safe form of `value` as `field` stores it (on the `vendor` database, when known): what entries
    record and what change detection compares.

    Custom fields are recorded by their own stored form (`get_prep_value`, or `value_to_string` when that is not
    JSON-safe); a value the field cannot prepare (the save will reject it) is recorded as given.
    """
    if value is None:
        return None
    if _NATURAL_TYPES.get(type(field)) is type(value):
        return value  # the common case, stored as it is
    try:
        prepared = _prepared(field, value)
    except Exception:  # the write itself reports bad input; recording it must not fail first
        prepared = value
    if vendor == "sqlite" and isinstance(prepared, float) and math.isnan(prepared):
        return None  # SQLite has no NaN: it stores NULL
    return to_json(prepared, field)


def key(json_value: Any) -> Any:
    """A comparison key that tells 1 from True and 1 from 1.0, as the stored JSON does (dict order aside)."""
    kind = type(json_value)
    if kind is str:
        return json_value
    if kind in (int, float, bool, type(None)):
        return kind, json_value
    return "json", json.dumps(json_value, sort_keys=True, separators=(",", ":"))


def changes(
    fields: Sequence[models.Field], old_values: Sequence[Any], new_values: Sequence[Any]
) -> dict[str, dict[str, Any]]:
    """{name: {"old": ..., "new": ...}} for each field whose stored forms differ. Values are stored forms."""
    return {
        field.name: {"old": old, "new": new}
        for field, old, new in zip(fields, old_values, new_values, strict=True)
        if key(old) != key(new)
    }


def update_entries(
    fields: Sequence[models.Field],
    before: Mapping[Any, Sequence[Any]],
    after: Mapping[Any, Sequence[Any]],
    entry: dict[str, Any],
) -> dict[Any, dict[str, Any]]:
    """{pk: `entry` with the row's changes} for each row of `after` whose stored forms differ from `before`'s (both
    {pk: [stored form of each of `fields`]}); a row that did not change gets no entry."""
    entries: dict[Any, dict[str, Any]] = {}
    for pk, new in after.items():
        row_changes = changes(fields, before[pk], new)
        if row_changes:
            entries[pk] = {**entry, "changes": row_changes}
    return entries


def creation_changes(instance: models.Model, vendor: str | None = None) -> dict[str, dict[str, Any]]:
    """A create entry lists every tracked field, old null."""
    return {
        field.name: {"old": None, "new": stored_form(field, instance.__dict__.get(field.attname), vendor)}
        for field in tracked_fields(type(instance))
        if field.attname in instance.__dict__
    }


def entry(
    action: str,
    changes: dict[str, dict[str, Any]],
    user: "AbstractBaseUser | None",
    at: datetime.datetime,
    cause: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One history entry. The user's name is copied in so the entry stays readable after the user is deleted."""
    made: dict[str, Any] = {
        "at": at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
        "by": to_json(user.pk) if user is not None else None,
        "by_name": user.get_username() if user is not None else None,
        "action": action,
        "changes": changes,
    }
    if cause is not None:
        made["cause"] = cause  # {"model": "app.model", "pk": ...}: the row whose deletion (or restore) led here
    ctx = current_context()
    if ctx is not None:
        made["ctx"] = ctx  # the request, task or command the change was made in (see context.py)
    return made


def to_json(value: Any, field: models.Field | None = None) -> Any:
    """A JSON-safe form of a prepared value: datetimes as ISO-8601 in UTC, Decimals and UUIDs as strings, durations
    as ISO-8601, files as their name, bytes as base64, NaN and infinities as strings (JSON has none)."""
    if isinstance(value, _JSON_SCALARS):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return to_json(value.value, field)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        return value.isoformat(timespec="microseconds")  # always six digits, as the database spells it too
    if isinstance(value, datetime.time):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or ""
    if isinstance(value, models.Model):
        return to_json(value.pk)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(name): to_json(item) for name, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(item) for item in value]
    if isinstance(value, Promise):
        return str(value)
    return _unknown(value, field)


def _prepared(field, value):
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(field, models.DateTimeField) and isinstance(value, datetime.datetime):
        # What get_prep_value does, without its warning about naive values (the save itself will warn).
        if timezone.is_naive(value):
            value = timezone.make_aware(value, timezone.get_default_timezone())
        return value
    if isinstance(field, models.DecimalField):
        number = field.to_python(value)
        return number.quantize(decimal.Decimal(1).scaleb(-field.decimal_places)) if number.is_finite() else number
    if isinstance(field, models.JSONField):
        return value  # stored as given; to_json keeps 1 and True apart
    return field.get_prep_value(value)


def _unknown(value, field):
    """A value no rule above knows: the field's own serialised form, or a readable marker; never an exception."""
    if field is not None and type(field).value_to_string is not models.Field.value_to_string:
        try:
            return field.value_to_string(_Holder(field.attname, value))
        except Exception:  # noqa: S110 - fall through to the marker below
            pass
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


class _Holder:
    """What `Field.value_to_string(obj)` reads the value from."""

    def __init__(self, attname, value):
        setattr(self, attname, value)
