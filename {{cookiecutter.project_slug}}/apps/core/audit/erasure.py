"""Erasure: the recorded values of some fields removed from a row's history, wherever it lives.

`redact()` replaces the old and new values of the named fields in every entry of the row (in the row and in its
archived records, including the last values a deleted row's record keeps) with `REDACTED`, and adds a "redact"
entry naming the fields and the reason, never the values. With no key it does so for every row of the model (and
every archived record under its label): the way to remove secrets recorded before a field joined
`history_exclude`. Each row (with its records) is redacted in one transaction, under a lock, in batches.

The row's current values are left alone: erasing those is an ordinary update, audited as any other.
"""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction

from . import entries, tracker
from .archive import ArchivedHistory
from .sequence import stored_pk

REDACT = "redact"
REDACTED = "[redacted]"

# Rows (and records) read per batch: their histories are read whole.
_BATCH = 500


def redaction_fields(model: type[models.Model], fields: Iterable[str]) -> list[str]:
    """The names of `fields` on `model` (names or attnames), checked: raises ValueError naming the first problem."""
    names = []
    for name in fields:
        if name == "history":
            raise ValueError("The history itself cannot be redacted; name the fields whose values it recorded.")
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            attnames = {field.attname: field for field in model._meta.concrete_fields}
            if name not in attnames:
                raise ValueError(f"{model._meta.label} has no field {name!r}.") from None
            field = attnames[name]
        if not field.concrete:
            raise ValueError(f"{model._meta.label}.{name} is not a column: nothing of it is recorded.")
        names.append(field.name)
    if not names:
        raise ValueError("Name at least one field to redact.")
    return sorted(set(names))


def redact(model: type[models.Model], pk: Any, fields: Iterable[str], reason: str, using: str = "default") -> int:
    """Redact `fields` in the history of `model`'s row `pk` (of every row, alive or deleted, when `pk` is None).
    Returns the number of entries (and deleted rows' last values) whose values were replaced."""
    names = redaction_fields(model, fields)
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("Give the reason for the redaction: it is recorded in the history.")
    now, user = tracker.bulk_moment()
    entry = {**entries.entry(REDACT, {}, user, now), "fields": names, "reason": reason}
    base = model._base_manager.db_manager(using)
    records = ArchivedHistory.objects.using(using).filter(model_label=model._meta.label_lower)
    if pk is not None:
        pk = model._meta.pk.to_python(pk)
        key = stored_pk(model, pk)
        if not base.filter(pk=pk).exists() and not records.filter(object_pk=key).exists():
            raise ValueError(f"{model._meta.label} has no row and no archived history with the key {pk!r}.")
        with transaction.atomic(using=using):
            return _redact_batch(model, base.filter(pk=pk), records.filter(object_pk=key), names, entry, force=True)
    redacted, last_pk = 0, None
    while True:  # the live rows, with their archived chunks
        rows = base.order_by("pk") if last_pk is None else base.order_by("pk").filter(pk__gt=last_pk)
        pks = list(rows.values_list("pk", flat=True)[:_BATCH])
        if not pks:
            break
        last_pk = pks[-1]
        keys = [stored_pk(model, pk) for pk in pks]
        with transaction.atomic(using=using):
            redacted += _redact_batch(model, base.filter(pk__in=pks), records.filter(object_pk__in=keys), names, entry)
    last_id = 0
    while True:  # rows deleted for real: their records only
        ids = list(records.filter(id__gt=last_id).order_by("id").values_list("id", flat=True)[:_BATCH])
        if not ids:
            break
        last_id = ids[-1]
        with transaction.atomic(using=using):
            batch = records.filter(id__in=ids)
            alive = {
                stored_pk(model, pk) for pk in base.filter(pk__in=_keys(model, batch)).values_list("pk", flat=True)
            }
            redacted += _redact_batch(model, base.none(), batch.exclude(object_pk__in=alive), names, entry)
    return redacted


def _keys(model: type[models.Model], records: models.QuerySet) -> list[Any]:
    keys = []
    for key in records.values_list("object_pk", flat=True).distinct():
        try:
            keys.append(model._meta.pk.to_python(key))
        except Exception:  # noqa: S112 - a key this model can no longer hold has no live row
            continue
    return keys


def _redact_batch(
    model: type[models.Model],
    rows: models.QuerySet,
    records: models.QuerySet,
    names: list[str],
    entry: dict,
    force: bool = False,
) -> int:
    """Redact the histories of `rows` and `records` (locked). Each history that held a value of `names` (each, with
    `force`) gets `entry`: in the row when it is alive, else in its last archived record. Returns the number of
    entries and values replaced."""
    replaced = 0
    noted: set[str] = set()
    for pk, history in rows.select_for_update().defer(None).values_list("pk", "history"):
        redacted, count = _redacted(history or [], names)
        if count or force:
            models.QuerySet.update(rows.filter(pk=pk), history=[*redacted, entry])
            noted.add(stored_pk(model, pk))
        replaced += count
    last_of: dict[str, ArchivedHistory] = {}
    touched_keys: set[str] = set()
    for record in records.select_for_update().order_by("id"):
        redacted, count = _redacted(record.entries, names)
        values = record.values
        for name in names:
            if values and values.get(name) is not None:
                values, count = {**values, name: REDACTED}, count + 1
        if count:
            record.entries, record.values = redacted, values
            record.save(update_fields=["entries", "values"])
            touched_keys.add(record.object_pk)
        replaced += count
        last_of[record.object_pk] = record
    for key, record in last_of.items():
        if key not in noted and (force or key in touched_keys) and record.deleted:
            record.entries = [*record.entries, entry]
            record.entry_count = len(record.entries)
            record.save(update_fields=["entries", "entry_count"])
    return replaced


def _redacted(history: list[dict], names: list[str]) -> tuple[list[dict], int]:
    """The entries with the recorded values of `names` replaced by REDACTED, and how many entries held one."""
    count = 0
    result = []
    for item in history:
        changes = item.get("changes") or {}
        hit = [name for name in names if name in changes]
        if hit:
            count += 1
            item = {**item, "changes": {**changes, **{name: {"old": REDACTED, "new": REDACTED} for name in hit}}}
        result.append(item)
    return result, count
