"""QuerySets and managers of TrackableModel and TimestampedModel: bulk operations that keep the audit trail, soft
delete."""

from django.db import models, transaction
from django.utils import timezone

from . import history
from .current_user import get_current_user
from .expressions import JSONAppend

_DEFERRED = object()

# Rows per UPDATE when a queryset-wide write lists the rows it touches (keeps clear of SQLite's parameter limit).
_UPDATE_BATCH = 500


class TrackableQuerySet(models.QuerySet):
    """A QuerySet whose bulk writes are audited like `save()`: none of them bypasses the history."""

    def update(self, **values):
        """Update the rows, set their audit stamps, and record an "update" entry on each row whose tracked values
        change. Returns the number of rows matched, as QuerySet.update() does."""
        return self._audited_update(values, history.UPDATE)

    update.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        """Insert the objects, each stamped and carrying its "create" entry."""
        objs = list(objs)
        now, user = timezone.now(), get_current_user()
        for obj in objs:
            obj._prepare_create(now, user)
        created = super().bulk_create(objs, *args, **kwargs)
        for obj in objs:
            obj._take_history_snapshot()
        return created

    bulk_create.alters_data = True

    def bulk_update(self, objs, fields, batch_size=None):
        """Update `fields` of each object, appending an entry (diffed against its snapshot) in the same statement."""
        objs = list(objs)
        fields = list(fields)
        now, user = timezone.now(), get_current_user()
        stamps = self.model._audit_stamps(now, user, adding=False)
        pending = []
        for obj in objs:
            for attname, value in stamps.items():
                setattr(obj, attname, value)
            entry = obj._history_entry(history.UPDATE, now, user, only=set(fields))
            pending.append((obj, obj.__dict__.get("history", _DEFERRED), entry))
            obj.history = _appended(self.model, entry) if entry else models.F("history")
        try:
            # Django's bulk_update ends in QuerySet.update(); the entries are already in the statement, so it runs
            # on a plain queryset rather than through the audited update() above, which would record them twice.
            updated = self._unaudited().bulk_update(objs, [*fields, *stamps, "history"], batch_size=batch_size)
        finally:
            for obj, loaded_history, _entry in pending:
                if loaded_history is _DEFERRED:
                    del obj.__dict__["history"]  # still deferred: read from the database when first accessed
                else:
                    obj.history = loaded_history
        for obj, _loaded_history, entry in pending:
            obj._history_saved(entry, fields)
        return updated

    bulk_update.alters_data = True

    def _unaudited(self, filtered=True):
        """A plain QuerySet on the same rows (or, unfiltered, on the whole table), for writes already audited."""
        query = self.query.chain() if filtered else None
        return models.QuerySet(model=self.model, query=query, using=self.db, hints=self._hints)

    def _audited_update(self, values, action):
        """The one path for queryset-wide writes. In one transaction: lock the matching rows and read their tracked
        values, write the new values and the stamps, and append one entry to each row whose tracked values changed.
        """
        if self.query.is_sliced:
            raise TypeError("Cannot update a query once a slice has been taken.")
        self._for_write = True
        model = self.model
        now, user = timezone.now(), get_current_user()
        values = {**model._audit_stamps(now, user, adding=False), **values}
        tracked_fields = history.tracked_fields(model)
        tracked = {}
        for key in values:
            field = model._meta.get_field(key)
            if field in tracked_fields:
                tracked[field] = key
        if not tracked:
            return self._unaudited().update(**values)
        attnames = [field.attname for field in tracked]
        rows = self._unaudited(filtered=False)
        with transaction.atomic(using=self.db, savepoint=False):
            locked = self.select_for_update(of=("self",)).values_list("pk", *attnames)
            before = {pk: old for pk, *old in locked}
            if any(hasattr(value, "resolve_expression") for value in values.values()):
                # The new values are computed by the database: write them, then read them back to diff.
                for pks in _batches(before):
                    rows.filter(pk__in=pks).update(**values)
                after = {}
                for pks in _batches(before):
                    after.update((pk, new) for pk, *new in rows.filter(pk__in=pks).values_list("pk", *attnames))
                _write(rows, before, {}, _entries_by_row(before, after, tracked, action, now, user))
            else:
                new = [history.as_stored(field, values[key]) for field, key in tracked.items()]
                entries = _entries_by_row(before, dict.fromkeys(before, new), tracked, action, now, user)
                _write(rows, before, values, entries)
        return len(before)


def _appended(model, entry):
    return JSONAppend(model._meta.get_field("history").column, entry)


def _batches(pks):
    pks = list(pks)
    for start in range(0, len(pks), _UPDATE_BATCH):
        yield pks[start : start + _UPDATE_BATCH]


def _entries_by_row(before, after, fields, action, now, user):
    """{pk: entry} for the rows whose tracked values change; rows with the same change share one entry object."""
    shared = {}
    entries = {}
    for pk, old in before.items():
        new = after.get(pk)
        if new is None or list(old) == list(new):
            continue  # unchanged, or gone
        changes = {
            field.name: {"old": history.to_json(o), "new": history.to_json(n)}
            for field, o, n in zip(fields, old, new, strict=True)
            if o != n
        }
        key = repr(changes)
        if key not in shared:
            shared[key] = history.entry(action, changes, user, now)
        entries[pk] = shared[key]
    return entries


def _write(rows, pks, values, entries):
    """Write `values` to every row in `pks` and append each changed row's entry, in one UPDATE per batch."""
    for batch in _batches(pks):
        by_entry = {}
        for pk in batch:
            if pk in entries:
                by_entry.setdefault(id(entries[pk]), (entries[pk], []))[1].append(pk)
        if by_entry:
            appended = models.Case(
                *(
                    models.When(pk__in=entry_pks, then=_appended(rows.model, entry))
                    for entry, entry_pks in by_entry.values()
                ),
                default=models.F("history"),
            )
            rows.filter(pk__in=batch).update(**values, history=appended)
        elif values:
            rows.filter(pk__in=batch).update(**values)


class TimestampedQuerySet(TrackableQuerySet):
    """Soft delete for querysets: `delete()` marks rows deleted (with a history entry); `hard_delete()` removes them."""

    def alive(self):
        return self.filter(date_deleted__isnull=True)

    def deleted(self):
        return self.filter(date_deleted__isnull=False)

    def delete(self):
        """Mark the rows deleted, recording a "delete" entry on each. Returns what QuerySet.delete() would."""
        count = self.alive()._audited_update({"date_deleted": timezone.now()}, history.DELETE)
        return count, ({self.model._meta.label: count} if count else {})

    delete.alters_data = True
    delete.queryset_only = True

    def restore(self):
        """Undo the soft delete of the deleted rows among these, recording a "restore" entry on each."""
        return self.deleted()._audited_update({"date_deleted": None}, history.RESTORE)

    restore.alters_data = True

    def hard_delete(self):
        """Remove the rows from the database for real."""
        return super().delete()

    hard_delete.alters_data = True
    hard_delete.queryset_only = True


class _HistoryDeferredManager:
    """Rows are loaded without their history. It grows with every change, and no write needs it (the database
    appends to it), so reading it is paid only by code that reads it: `obj.history` fetches it on first access, and
    `.defer(None)` loads it with the rows."""

    def get_queryset(self):
        return super().get_queryset().defer("history")


class TrackableManager(_HistoryDeferredManager, models.Manager.from_queryset(TrackableQuerySet)):
    pass


class TimestampedManager(_HistoryDeferredManager, models.Manager.from_queryset(TimestampedQuerySet)):
    """Every row, deleted or not (`all_objects`)."""


class AliveManager(TimestampedManager):
    """The default manager of timestamped models: soft-deleted rows are hidden."""

    def get_queryset(self):
        return super().get_queryset().alive()
