"""The history trail of a TrackableModel: which fields are tracked, the snapshot taken on load, the diff against
it, and the JSON-safe entries that record each change.

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
field with old null.)
"""

import base64
import copy
import datetime
import enum
import functools
import math
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils.duration import duration_iso_string
from django.utils.functional import Promise

CREATE, UPDATE, DELETE, RESTORE = "create", "update", "delete", "restore"


@functools.cache
def tracked_fields(model):
    """Concrete fields whose changes enter the history: not the key, the bookkeeping, or `history_exclude`."""
    untracked = {*model.history_bookkeeping_fields, *model.history_exclude}
    return tuple(
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and field.name not in untracked and field.attname not in untracked
    )


@functools.cache
def snapshot_fields(model):
    """Fields whose loaded values are remembered: every concrete field but the key and the history itself. Tracked
    fields give the history its old values; all of them let a save write only what changed."""
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key and field.name != "history")


def snapshot(instance, fields=None):
    """The loaded values, copied so that in-place edits of JSON values still show as changes."""
    loaded = instance.__dict__
    return {
        field.attname: _detached(loaded[field.attname])
        for field in (snapshot_fields(type(instance)) if fields is None else fields)
        if field.attname in loaded
    }


def unchanged(field, snapshot_values, value):
    """Whether `value` is what the snapshot holds for `field` (False when the snapshot does not know it)."""
    if field.attname not in snapshot_values:
        return False
    old = snapshot_values[field.attname]
    return value == old or as_stored(field, value) == old


def changes_since(instance, snapshot_values, only=None):
    """A dict of field name -> {"old": ..., "new": ...} for each tracked field whose value differs from the snapshot.

    `only` limits the diff to the fields being saved (`update_fields`). When the old value is unknown (an instance
    built by hand for an existing row, or a field deferred at load time and then assigned) the field is listed with
    old null: a write the snapshot cannot explain is still recorded, never skipped.
    """
    changes = {}
    for field in tracked_fields(type(instance)):
        if only is not None and field.name not in only and field.attname not in only:
            continue
        if field.attname not in instance.__dict__:
            continue  # deferred: not loaded, so not being saved
        value = instance.__dict__[field.attname]
        if snapshot_values is not None and unchanged(field, snapshot_values, value):
            continue
        old = None if snapshot_values is None else snapshot_values.get(field.attname)
        changes[field.name] = {"old": to_json(old), "new": to_json(as_stored(field, value))}
    return changes


def creation_changes(instance):
    """A create entry lists every tracked field, old null."""
    return {
        field.name: {"old": None, "new": to_json(as_stored(field, instance.__dict__.get(field.attname)))}
        for field in tracked_fields(type(instance))
    }


def entry(action, changes, user, at):
    """One history entry. The user's name is copied in so the entry stays readable after the user is deleted."""
    return {
        "at": at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
        "by": user.pk if user is not None else None,
        "by_name": user.get_username() if user is not None else None,
        "action": action,
        "changes": changes,
    }


def to_json(value):
    """A JSON-safe form of a field value: dates as ISO-8601 (UTC when aware), Decimals and UUIDs as strings,
    files as their name, model instances as their primary key, bytes as base64."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name
    if isinstance(value, models.Model):
        return to_json(value.pk)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(item) for item in value]
    if isinstance(value, Promise):
        return str(value)
    return str(value)


def as_stored(field, value):
    """The value as the field holds it once stored ("1.50" as Decimal("1.50"), an ISO string as a datetime, a model
    instance as its key), so that assigning an equal value in another form is not reported as a change."""
    if isinstance(value, models.Model):
        return value.pk
    if value is None or isinstance(value, FieldFile):
        return value
    try:
        return field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return value  # the save itself will reject it, or the database will convert it


def _detached(value):
    """A copy that later in-place edits of the instance cannot reach (JSON containers, the name of a file)."""
    if isinstance(value, FieldFile):
        return value.name
    return copy.deepcopy(value) if isinstance(value, (dict, list)) else value
