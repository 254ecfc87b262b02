"""QuerySets and managers of the base models: bulk operations that keep the audit trail, soft delete, task claiming."""

from django.db import models, transaction
from django.utils import timezone

from . import history
from .current_user import get_current_user
from .expressions import JSONAppend

# Rows per UPDATE when a queryset-wide change writes one history entry per distinct old value.
_UPDATE_BATCH = 500


class TrackableQuerySet(models.QuerySet):
    """A QuerySet whose bulk writes are audited like `save()`: none of them bypasses the history."""

    def update(self, **values):
        """Update the rows and record an "update" entry on each row whose tracked values change."""
        return self._audited_update(values, history.UPDATE)

    update.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
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
            pending.append((obj, obj.__dict__.get("history"), entry))
            obj.history = JSONAppend(models.F("history"), entry) if entry else models.F("history")
        try:
            updated = super().bulk_update(objs, [*fields, *stamps, "history"], batch_size=batch_size)
        finally:
            for obj, loaded_history, entry in pending:
                obj.history = loaded_history
        for obj, loaded_history, entry in pending:
            obj._history_saved(entry, fields)
        return updated

    bulk_update.alters_data = True

    def _audited_update(self, values, action):
        """The one path for queryset-wide writes: lock the rows, read their old values, write the new values, the
        stamps and one history entry per changed row. Rows whose values do not change are not written."""
        model = self.model
        now, user = timezone.now(), get_current_user()
        stamps = model._audit_stamps(now, user, adding=False)
        fields = [model._meta.get_field(name) for name in values]
        tracked = [field for field in fields if field in history.tracked_fields(model)]
        if not tracked:
            return super().update(**values, **stamps)
        attnames = [field.attname for field in tracked]
        rows = model._base_manager.using(self.db)
        with transaction.atomic(using=self.db, savepoint=False):
            before = {pk: old for pk, *old in self.select_for_update().values_list("pk", *attnames)}
            if any(hasattr(value, "resolve_expression") for value in values.values()):
                # The new values are computed by the database: write them, then read them back to diff.
                rows.filter(pk__in=before).update(**values, **stamps)
                after = {pk: new for pk, *new in rows.filter(pk__in=before).values_list("pk", *attnames)}
                entries = _entries_by_row(before, after, tracked, action, now, user)
                _write_entries(rows, entries, {})
            else:
                new = [_as_stored(field, values[field.name]) for field in tracked]
                entries = _entries_by_row(before, dict.fromkeys(before, new), tracked, action, now, user)
                _write_entries(rows, entries, {**values, **stamps})
        return len(before)


def _as_stored(field, value):
    if isinstance(value, models.Model):
        value = value.pk
    return field.to_python(value)


def _entries_by_row(before, after, fields, action, now, user):
    """{entry key: (entry, [pk, ...])} for the rows whose values change; rows sharing old and new share an entry."""
    grouped = {}
    for pk, old in before.items():
        new = after[pk]
        if list(old) == list(new):
            continue
        changes = {
            field.name: {"old": history.to_json(o), "new": history.to_json(n)}
            for field, o, n in zip(fields, old, new, strict=True)
            if o != n
        }
        key = repr(changes)
        if key not in grouped:
            grouped[key] = (history.entry(action, changes, user, now), [])
        grouped[key][1].append(pk)
    return grouped


def _write_entries(rows, entries, values):
    """Write `values` and append each row's entry, in one UPDATE per batch of rows."""
    targets = [(entry, pk) for entry, pks in entries.values() for pk in pks]
    for start in range(0, len(targets), _UPDATE_BATCH):
        batch = targets[start : start + _UPDATE_BATCH]
        by_entry = {}
        for entry, pk in batch:
            by_entry.setdefault(id(entry), (entry, []))[1].append(pk)
        appended = models.Case(
            *(models.When(pk__in=pks, then=JSONAppend(models.F("history"), entry)) for entry, pks in by_entry.values()),
            default=models.F("history"),
        )
        rows.filter(pk__in=[pk for _, pk in batch]).update(**values, history=appended)


class TimestampedQuerySet(TrackableQuerySet):
    """Soft delete for querysets: `delete()` marks rows deleted (with a history entry); `hard_delete()` removes them."""

    def alive(self):
        return self.filter(date_deleted__isnull=True)

    def deleted(self):
        return self.filter(date_deleted__isnull=False)

    def delete(self):
        count = self.alive()._audited_update({"date_deleted": timezone.now()}, history.DELETE)
        return count, ({self.model._meta.label: count} if count else {})

    delete.alters_data = True
    delete.queryset_only = True

    def restore(self):
        return self.deleted()._audited_update({"date_deleted": None}, history.RESTORE)

    restore.alters_data = True

    def hard_delete(self):
        return super().delete()

    hard_delete.alters_data = True
    hard_delete.queryset_only = True


class AliveManager(models.Manager.from_queryset(TimestampedQuerySet)):
    """The default manager of timestamped models: soft-deleted rows are hidden."""

    def get_queryset(self):
        return super().get_queryset().alive()


class TaskQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=self.model.Status.PENDING)

    def claim(self, count=1, task_ingestor=None):
        """Atomically take the `count` oldest pending tasks (optionally of one ingestor) and return them, now
        "processing", oldest first. On PostgreSQL the rows are locked with SKIP LOCKED, so concurrent workers each
        get different tasks without waiting for one another; on SQLite the write transaction serialises them."""
        if count < 1:
            raise ValueError(f"claim() needs a count of at least 1, not {count!r}.")
        candidates = self.pending()
        if task_ingestor is not None:
            candidates = candidates.filter(task_ingestor=task_ingestor)
        processing = self.model.Status.PROCESSING
        with transaction.atomic(using=self.db):
            tasks = list(candidates.order_by("datetime", "pk").select_for_update(skip_locked=True)[:count])
            if tasks:
                self.model._status_rows(self.db).filter(pk__in=[task.pk for task in tasks]).update(status=processing)
        for task in tasks:
            task.status = processing
        return tasks
