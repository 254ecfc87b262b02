"""QuerySets and managers of TrackableModel (TimestampedModel's build on these, in `softdelete.managers`).

Every bulk write is audited like save(), and each keeps QuerySet's own behaviour, return value and errors:

- update() locks and reads the rows it will change (by primary key, whatever the queryset's annotations, distinct
  or grouping), lets Django run its own UPDATE on exactly those rows, and appends one entry per changed row in one
  more statement per batch. Invalid input raises Django's own error before any transaction is opened.
- bulk_create() gives each row its "create" entry (the history field does, as for save()); with
  update_conflicts=True the rows it updates instead get an "update" entry, and their history is never replaced.
- bulk_update() is Django's, which ends in the audited update() above.
"""

import contextlib
import contextvars
import functools
from collections.abc import Callable, Collection, Iterable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models, transaction

from . import entries, feed, retention, sql_entries, tracker
from .django_internals import PeerLinkingIterable, check_update, defer_in_place
from .expressions import EntriesByRow, append_entries, rows_among

# Rows per batch when a write lists the rows it touches (passed as one array or JSON parameter).
_BATCH = 10_000

# Set while Django's bulk_update() runs its UPDATEs through update(), inside its own atomic block: the JSON forms
# of the new values it sets, {attname: {pk: JSON form}}, for the fields it could tell them of (see _values_by_row).
_bulk_update_values: contextvars.ContextVar[dict[str, dict[Any, Any]] | None] = contextvars.ContextVar(
    "bulk_update_values", default=None
)


class TrackableQuerySet(models.QuerySet):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._iterable_class = PeerLinkingIterable

    def update(self, **values: Any) -> int:
        """Update the rows, stamp them, and record an "update" entry on each row whose tracked values change.
        Returns the number of rows matched, as QuerySet.update() does."""
        if "history" in values:
            raise ValueError("The history is written by the audit trail; QuerySet.update() cannot set it.")
        self._for_write = True
        now, user = tracker.bulk_moment()
        values = {**_stamps_not_given(self.model, now, user, values), **values}
        tracked = _tracked(self.model, values)
        if not tracked:
            return super().update(**values)
        vendor = connections[self.db].vendor
        one_statement = sql_entries.can_build(self.model, [field for field, _key in tracked], vendor)
        # Invalid input raises Django's own error before anything is trimmed, locked or read, and the transaction
        # stays usable: checked first, unless the update is Django's one UPDATE (guarded by _keeping_transaction
        # instead, without compiling it twice) or runs inside bulk_update(), whose atomic block ends with the error
        # and takes the transaction with it whatever is checked first.
        alone = one_statement and retention.row_limit(self.model) is None
        by_row = _bulk_update_values.get()
        if not alone and by_row is None:
            check_update(self, values)
        retention.before_update(self)  # rows at the model's history_row_limit move their oldest entries out first
        entry = entries.entry(entries.UPDATE, {}, user, now)
        if one_statement:
            # One statement: the database writes each row's entry from its old values (see sql_entries.py). A new
            # value the database computes is in the SET and in the entry: resolved once for both.
            for _field, key in tracked:
                if hasattr(values[key], "resolve_expression"):
                    values[key] = sql_entries.ResolvedOnce(values[key])
            changes = [
                (field, _entry_value(field, values[key], (by_row or {}).get(key), vendor)) for field, key in tracked
            ]
            values["history"] = sql_entries.AppendUpdateEntry(changes, entry)
            if not alone or by_row is not None:
                return super().update(**values)
            return _keeping_transaction(self.db, functools.partial(super().update, **values))
        with transaction.atomic(using=self.db, savepoint=False):
            return _audited_update(self, values, tracked, entry)

    update.alters_data = True  # type: ignore[attr-defined]

    def bulk_create(
        self,
        objs: Iterable[Any],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Collection[str] | None = None,
        unique_fields: Collection[str] | None = None,
    ) -> list[Any]:
        """Insert the objects, each stamped and with its "create" entry. With update_conflicts=True, the rows that
        already exist get an "update" entry for what changed instead, and keep their history."""
        objs = list(objs)
        self._for_write = True
        now, user = tracker.bulk_moment()
        upsert = update_conflicts and _concrete(self.model, unique_fields) and _concrete(self.model, update_fields)
        if upsert:  # the history is never replaced; the rows updated are stamped
            unique_fields = [self.model._meta.pk.name if name == "pk" else name for name in unique_fields or ()]
            update_fields = [name for name in update_fields or () if name != "history"]
            update_fields += list(_stamps_not_given(self.model, now, user, update_fields))
        # An upsert reads the rows it will update first: both in one transaction. A plain insert needs none of its
        # own (Django opens one when it inserts in several batches).
        atomic = transaction.atomic(using=self.db, savepoint=False) if upsert else contextlib.nullcontext()
        with tracker.bulk_write(now, user), atomic:
            existing = _lock_existing(self, objs, unique_fields, update_fields) if upsert else None
            created = super().bulk_create(
                objs,
                batch_size=batch_size,
                ignore_conflicts=ignore_conflicts,
                update_conflicts=update_conflicts,
                update_fields=update_fields,
                unique_fields=unique_fields,
            )
            if upsert:
                entry = entries.entry(entries.UPDATE, {}, user, now)
                _record_upserted(self, objs, existing, unique_fields, update_fields, entry)
        if not ignore_conflicts:
            for obj in objs:
                if obj.pk is not None:
                    tracker.record_write(obj, tracker.snapshot(obj), replaces=True, using=self.db)
        return created

    bulk_create.alters_data = True  # type: ignore[attr-defined]

    def bulk_update(self, objs: Iterable[Any], fields: Iterable[str], batch_size: int | None = None) -> int:
        """Django's bulk_update(), whose UPDATE goes through the audited update(); `history` in `fields` is left
        out (only the audit trail writes it)."""
        objs = list(objs)
        fields = list(fields)
        if fields and set(fields) <= {"history"}:
            raise ValueError("The history is written by the audit trail; bulk_update() cannot set it.")
        fields = [name for name in fields if name != "history"]
        now, user = tracker.bulk_moment()
        token = _bulk_update_values.set(_values_by_row(self, objs, fields, batch_size))
        try:
            with tracker.bulk_write(now, user):
                updated = super().bulk_update(objs, fields, batch_size=batch_size)
        finally:
            _bulk_update_values.reset(token)
        written = entries.tracked_among(self.model, fields)
        for obj in objs:
            obj._stamp_update(now, user)
            tracker.record_write(obj, tracker.snapshot(obj, written), replaces=False, using=self.db)
        return updated

    bulk_update.alters_data = True  # type: ignore[attr-defined]

    def changed_by(
        self, user: Any, since: Any = None, until: Any = None, fields: Iterable[str] | None = None
    ) -> "TrackableQuerySet":
        """The rows with at least one entry by `user` (a user, a user's primary key, or None for changes made with
        nobody acting) made in [since, until) (timezone-aware datetimes), touching any of `fields` when given. One
        SQL condition (see feed.py); on PostgreSQL the history's GIN index finds the user's rows."""
        feed.check_fields(self.model, fields)
        spec = feed.EntryFilter.of(user, since, until, fields, anyone=False)
        return self.filter(feed.ChangedBy(spec))


def _entry_value(field: models.Field, value: Any, by_row: dict[Any, Any] | None, vendor: str) -> Any:
    """What the entry's SQL takes for the new value of `field`: each row's own JSON form, when bulk_update() told
    them; else the expression the database computes, or the JSON form of a constant."""
    if by_row is not None:
        return sql_entries.ByRow(by_row)
    return value if hasattr(value, "resolve_expression") else entries.stored_form(field, value, vendor)


def _values_by_row(
    queryset: TrackableQuerySet, objs: list[Any], names: list[str], batch_size: int | None
) -> dict[str, dict[Any, Any]]:
    """{attname: {pk: JSON form}} of the tracked fields a bulk_update() of `objs` sets, so that the entry takes each
    row's new value from one parameter rather than from Django's CASE of one WHEN per row; only when Django writes
    them in one UPDATE (each UPDATE would carry them all), and not for a field an object sets to an expression (the
    database computes it). Bad input is left to Django's bulk_update() to refuse."""
    model = queryset.model
    connection = connections[queryset.db]
    try:
        fields = [model._meta.get_field(name) for name in names]
        pks = [obj.pk for obj in objs]
    except (FieldDoesNotExist, AttributeError):
        return {}
    one_batch = connection.ops.bulk_batch_size([model._meta.pk, model._meta.pk, *fields], objs)  # as Django counts
    if not objs or len(objs) > min(batch_size or one_batch, one_batch) or not sql_entries.ByRow.applies_to(pks):
        return {}
    found = {}
    for field in entries.tracked_among(model, names):
        values: dict[Any, Any] = {}
        for obj, pk in zip(objs, pks, strict=True):
            value = getattr(obj, field.attname)
            if hasattr(value, "resolve_expression"):
                break
            values.setdefault(pk, entries.stored_form(field, value, connection.vendor))  # Django's CASE: first wins
        else:
            found[field.attname] = values
    return found


def _keeping_transaction(using: str, update: Callable[[], int]) -> int:
    """Run `update` (Django's QuerySet.update()); an error it raises before its statement reached the database
    (Django compiles the UPDATE inside `mark_for_rollback_on_error()`) leaves the transaction usable, as it was."""
    connection = connections[using]
    sent = []

    def note(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    usable = connection.in_atomic_block and not transaction.get_rollback(using)
    try:
        with connection.execute_wrapper(note):
            return update()
    except Exception:
        if usable and not sent:
            transaction.set_rollback(False, using=using)  # nothing was sent: the transaction is as it was
        raise


def _concrete(model, names):
    """Whether `names` are all concrete fields of `model` ("pk" included): anything else is left to Django's own
    bulk_create() to refuse, with its own error."""
    if not names:
        return False
    for name in names:
        if name == "pk":
            continue
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        if not field.concrete or field.many_to_many:
            return False
    return True


def _stamps_not_given(model, now, user, values):
    """The audit stamps of this write, but for the fields the caller sets itself (by name or attname)."""
    given = set()
    for key in values:
        with contextlib.suppress(FieldDoesNotExist):  # Django's own update reports it
            given.add(model._meta.get_field(key).name)
    return {
        attname: value
        for attname, value in model._update_stamps(now, user).items()
        if model._meta.get_field(attname).name not in given
    }


def _tracked(model, values):
    """[(field, key in values)] for the tracked fields among `values` (given by name or attname)."""
    tracked = entries.tracked_fields(model)
    found = []
    for key in values:
        try:
            field = model._meta.get_field(key)
        except FieldDoesNotExist:
            continue  # Django's own update reports it
        if field in tracked:
            found.append((field, key))
    return found


def _audited_update(queryset, values, tracked, entry):
    """Lock the rows `queryset` matches and read their tracked values, run Django's UPDATE on exactly those rows, and
    append an entry to each row that changed: in that same UPDATE on PostgreSQL when the new values are known
    beforehand, else in one more statement per batch. Returns the number of rows updated."""
    model, using = queryset.model, queryset.db
    connection = connections[using]
    fields = [field for field, _key in tracked]
    attnames = [field.attname for field in fields]
    rows = model._base_manager.db_manager(using)
    locked = rows.filter(pk__in=queryset.values("pk")).select_for_update().values_list("pk", *attnames)
    before = {pk: _stored_forms(fields, old) for pk, *old in locked}
    computed = any(hasattr(values[key], "resolve_expression") for _field, key in tracked)
    new = None if computed else [entries.stored_form(field, values[key], connection.vendor) for field, key in tracked]
    updated = 0
    for pks in _batches(list(before)):
        target = queryset.filter(pk__in=rows_among(model, pks, connection))
        if computed:
            updated += models.QuerySet.update(target, **values)
            # The database computed the new values: read them back.
            after = rows.filter(pk__in=rows_among(model, pks, connection)).values_list("pk", *attnames)
            after = {pk: _stored_forms(fields, row) for pk, *row in after}
            append_entries(model, using, entries.update_entries(fields, before, after, entry))
            continue
        by_row = entries.update_entries(fields, before, dict.fromkeys(pks, new or []), entry)
        if connection.vendor == "postgresql":
            updated += models.QuerySet.update(target, **values, history=EntriesByRow(model, by_row))
        else:
            updated += models.QuerySet.update(target, **values)
            append_entries(model, using, by_row)
    return updated


def _stored_forms(fields, values):
    return [entries.stored_form(field, value) for field, value in zip(fields, values, strict=True)]


def _batches(pks):
    for start in range(0, len(pks), _BATCH):
        yield pks[start : start + _BATCH]


def _unique_key(model, unique_fields, values):
    return tuple(
        entries.key(entries.stored_form(model._meta.get_field(name), value))
        for name, value in zip(unique_fields, values, strict=True)
    )


def _lock_existing(queryset, objs, unique_fields, update_fields):
    """{unique key: (pk, tracked values)} of the rows an upsert of `objs` will update, locked until it is done."""
    model = queryset.model
    fields = entries.tracked_among(model, update_fields)
    unique = [model._meta.get_field(name) for name in unique_fields]
    match = models.Q()
    for obj in objs:
        match |= models.Q(**{field.attname: getattr(obj, field.attname) for field in unique})
    rows = model._base_manager.db_manager(queryset.db).filter(match).select_for_update()
    found = rows.values_list("pk", *(field.attname for field in unique), *(field.attname for field in fields))
    existing = {}
    for pk, *values in found:
        key_values, tracked_values = values[: len(unique)], values[len(unique) :]
        existing[_unique_key(model, unique_fields, key_values)] = (pk, tracked_values)
    return existing


def _record_upserted(queryset, objs, existing, unique_fields, update_fields, entry):
    """Append an "update" entry to each existing row the upsert changed."""
    model = queryset.model
    fields = entries.tracked_among(model, update_fields)
    unique = [model._meta.get_field(name) for name in unique_fields]
    vendor = connections[queryset.db].vendor
    before, after = {}, {}
    for obj in objs:
        key = _unique_key(model, unique_fields, [getattr(obj, field.attname) for field in unique])
        if key in existing:
            pk, old_values = existing[key]
            before[pk] = _stored_forms(fields, old_values)
            after[pk] = [entries.stored_form(field, getattr(obj, field.attname), vendor) for field in fields]
    append_entries(model, queryset.db, entries.update_entries(fields, before, after, entry))


class HistoryDeferred(models.Manager):
    """Rows are loaded without their history. It grows with every change and no write needs it (the database
    appends to it), so reading it is paid only by code that reads it: `obj.history` fetches it on first access
    (for the whole batch of rows it came with), and `.defer(None)` loads it with the rows.

    Multi-table children load it with the row: Django builds their parent instance from the child's loaded fields,
    which would otherwise cost a query each time."""

    def get_queryset(self) -> Any:  # the QuerySet class of the manager it is mixed into
        queryset = super().get_queryset()
        return queryset if self.model._meta.parents else defer_in_place(queryset, "history")


_TrackableManagerBase = models.Manager.from_queryset(TrackableQuerySet)


class TrackableManager(HistoryDeferred, _TrackableManagerBase):
    pass
