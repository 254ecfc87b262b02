"""The base models every service builds on.

- TrackableModel (abstract): who created and last changed a row, when, and a JSON history of every change.
- TimestampedModel (abstract, a TrackableModel): date_added, date_updated and date_deleted, for soft delete.
- Task: a unit of work moving pending -> processing -> processed (then deleted) or failed.

The history machinery lives in `history.py`, the acting user in `current_user.py`, bulk and soft-delete behaviour in
`querysets.py`, task claiming in `task_queries.py`.
"""

from django.conf import settings
from django.core import checks
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import history
from .current_user import get_current_user
from .exceptions import InvalidTransition
from .expressions import JSONAppend
from .querysets import AliveManager, TimestampedManager, TrackableManager
from .task_queries import TaskQuerySet

__all__ = ["InvalidTransition", "Task", "TimestampedModel", "TrackableModel"]


class TrackableModel(models.Model):
    """Records who created and changed each row, and appends every change to `history`.

    Old values come from a snapshot taken when the row is loaded, so an update is a single UPDATE statement, in
    which the database itself appends the new entry: concurrent writers never lose one another's entries.
    """

    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    history = models.JSONField(_("history"), default=list, blank=True, editable=False)

    # Names of fields (secrets, say) whose values must never be written to the history.
    history_exclude = ()
    # The audit fields themselves: kept up to date on every write, not diffed.
    history_bookkeeping_fields = ("created_at", "updated_at", "created_by", "updated_by", "history")

    objects = TrackableManager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self._save_audited(history.CREATE if self._state.adding else history.UPDATE, *args, **kwargs)

    save.alters_data = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._take_history_snapshot()
        return instance

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        self._take_history_snapshot(only=fields)

    @classmethod
    def check(cls, **kwargs):
        """A misspelt `history_exclude` (or a bare string instead of a tuple) would let a secret into the history."""
        errors = super().check(**kwargs)
        if isinstance(cls.history_exclude, str):
            errors.append(
                checks.Error(
                    f"{cls.__name__}.history_exclude must be a tuple or list of field names, not a string.",
                    hint=f"Write history_exclude = ({cls.history_exclude!r},)",
                    obj=cls,
                    id="core.E001",
                )
            )
            return errors
        names = {name for field in cls._meta.concrete_fields for name in (field.name, field.attname)}
        errors.extend(
            checks.Error(
                f"{cls.__name__}.history_exclude names {name!r}, which is not a field of {cls._meta.label}.",
                obj=cls,
                id="core.E002",
            )
            for name in cls.history_exclude
            if name not in names
        )
        return errors

    @classmethod
    def _audit_stamps(cls, now, user, adding):
        """{attname: value} of the bookkeeping fields a write sets."""
        stamps = {"updated_at": now, "updated_by_id": user.pk if user is not None else None}
        if adding:
            stamps["created_at"] = now
            stamps["created_by_id"] = stamps["updated_by_id"]
        return stamps

    def _save_audited(self, action, *args, now=None, update_fields=None, **kwargs):
        if update_fields is not None:
            update_fields = set(update_fields)
            if not update_fields:
                return  # Django's rule: an empty update_fields saves nothing, so it records nothing either.
        now, user = now or timezone.now(), get_current_user()
        stamps = self._stamp(now, user, adding=self._state.adding)
        only_changed = update_fields is None
        if update_fields is not None:
            # The history is appended by _do_update whether or not it is listed, so it is never loaded for that.
            update_fields |= stamps.keys()
        self._pending_audit = (action, now, user, only_changed)
        try:
            super().save(*args, update_fields=update_fields, **kwargs)
        finally:
            del self._pending_audit
        self._take_history_snapshot(only=update_fields)

    def _do_update(self, base_qs, using, pk_val, values, update_fields, forced_update):
        # In the table that holds the history (the model's own, or a parent's under multi-table inheritance), the
        # Python-side history is never written: the database appends this save's entry, or leaves the column alone.
        pending = self.__dict__.get("_pending_audit")
        history_field = self._meta.get_field("history")
        if pending is None or base_qs.model is not history_field.model:
            return super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update)
        action, now, user, only_changed = pending
        entry = self._history_entry(history.UPDATE if action == history.CREATE else action, now, user, update_fields)
        values = [value for value in values if value[0].attname != history_field.attname]
        snapshot = self.__dict__.get("_history_snapshot")
        if only_changed and snapshot is not None:
            # A plain save() writes what changed since the row was loaded: a narrower UPDATE, and a stale instance
            # does not overwrite columns another process changed meanwhile (a soft delete, say) with old values.
            values = [value for value in values if not history.unchanged(value[0], snapshot, value[2])]
        if entry:
            values.append((history_field, None, JSONAppend(history_field.column, entry)))
        updated = super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update)
        if updated:
            self._remember_entry(entry)
        return updated

    def _do_insert(self, manager, using, fields, returning_fields, raw):
        pending = self.__dict__.get("_pending_audit")
        if pending is None or not any(field.attname == "history" for field in fields):
            return super()._do_insert(manager, using, fields, returning_fields, raw)
        _action, now, user, _only_changed = pending
        loaded_history = self.history
        self.history = [*(loaded_history or []), self._creation_entry(now, user)]
        try:
            return super()._do_insert(manager, using, fields, returning_fields, raw)
        except Exception:
            self.history = loaded_history  # so that a retried save does not record the creation twice
            raise

    def _stamp(self, now, user, adding):
        """Set the bookkeeping fields for this write and return them; a created_by set by the caller is kept."""
        stamps = self._audit_stamps(now, user, adding)
        if self.__dict__.get("created_by_id") is not None:
            stamps.pop("created_by_id", None)
        for attname, value in stamps.items():
            setattr(self, attname, value)
        return stamps

    def _prepare_create(self, now, user):
        """Stamp an unsaved instance and give it its "create" entry (used by bulk_create)."""
        self._stamp(now, user, adding=True)
        self.history = [*(self.history or []), self._creation_entry(now, user)]

    def _creation_entry(self, now, user):
        return history.entry(history.CREATE, history.creation_changes(self), user, now)

    def _history_entry(self, action, now, user, only=None):
        """The entry for saving this instance now, or None when no tracked field changed."""
        changes = history.changes_since(self, self.__dict__.get("_history_snapshot"), only)
        return history.entry(action, changes, user, now) if changes else None

    def _remember_entry(self, entry):
        """Keep the in-memory history in step with what the database appended (when it is loaded)."""
        if entry and "history" in self.__dict__:
            self.history = [*(self.history or []), entry]

    def _history_saved(self, entry, fields):
        self._remember_entry(entry)
        self._take_history_snapshot(only=fields)

    def _take_history_snapshot(self, only=None):
        fields = history.snapshot_fields(type(self))
        if only is None:
            self._history_snapshot = history.snapshot(self, fields)
            return
        fields = [field for field in fields if field.name in only or field.attname in only]
        self._history_snapshot = {**self.__dict__.get("_history_snapshot", {}), **history.snapshot(self, fields)}


class TimestampedModel(TrackableModel):
    """A TrackableModel with date_added, date_updated and soft delete through date_deleted.

    `objects` hides deleted rows, `all_objects` sees every row; `delete()` only marks a row deleted, `restore()`
    brings it back and `hard_delete()` removes it for real.
    """

    date_added = models.DateTimeField(_("date added"), default=timezone.now, editable=False)
    date_updated = models.DateTimeField(_("date updated"), default=timezone.now, editable=False)
    date_deleted = models.DateTimeField(_("date deleted"), null=True, blank=True, editable=False, db_index=True)

    history_bookkeeping_fields = (*TrackableModel.history_bookkeeping_fields, "date_added", "date_updated")

    objects = AliveManager()
    all_objects = TimestampedManager()

    class Meta(TrackableModel.Meta):
        abstract = True

    def delete(self, using=None, keep_parents=False):
        """Mark the row deleted and record it in the history; nothing is removed. Returns what Model.delete would."""
        if self.is_deleted:
            return 0, {}
        now = timezone.now()
        self.date_deleted = now
        self._save_audited(history.DELETE, now=now, using=using, update_fields={"date_deleted"})
        return 1, {self._meta.label: 1}

    delete.alters_data = True

    @property
    def is_deleted(self):
        return self.date_deleted is not None

    def restore(self, using=None):
        """Undo a soft delete, recording it in the history."""
        if not self.is_deleted:
            return
        self.date_deleted = None
        self._save_audited(history.RESTORE, using=using, update_fields={"date_deleted"})

    restore.alters_data = True

    def hard_delete(self, using=None, keep_parents=False):
        """Remove the row from the database for real."""
        return super().delete(using=using, keep_parents=keep_parents)

    hard_delete.alters_data = True

    @classmethod
    def _audit_stamps(cls, now, user, adding):
        stamps = super()._audit_stamps(now, user, adding)
        stamps["date_updated"] = now
        if adding:
            stamps["date_added"] = now
        return stamps


class Task(models.Model):
    """A unit of work: pending -> processing -> processed (and then deleted) or failed.

    Each transition is one compare-and-set UPDATE (`... WHERE status = <required>`), so two workers can never both
    start the same task, and a stale instance cannot move a task another worker has already moved.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSING = "processing", _("Processing")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("name"), max_length=255)
    task_ingestor = models.CharField(_("task ingestor"), max_length=255, db_index=True)
    datetime = models.DateTimeField(_("created"), default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ("datetime", "pk")
        indexes = [models.Index(fields=["status", "datetime"], name="core_task_status_datetime")]

    def __str__(self):
        return f"{self.name} ({self.status})"

    def start_processing(self):
        """pending -> processing."""
        self._transition(self.Status.PENDING, self.Status.PROCESSING)

    start_processing.alters_data = True

    def complete_processing(self):
        """processing -> processed, then delete the record (both or neither)."""
        with transaction.atomic(using=self._state.db):
            self._transition(self.Status.PROCESSING, self.Status.PROCESSED)
            self.delete()

    complete_processing.alters_data = True

    def fail_processing(self):
        """processing -> failed."""
        self._transition(self.Status.PROCESSING, self.Status.FAILED)

    fail_processing.alters_data = True

    @classmethod
    def _status_rows(cls, using=None):
        """The table that holds `status` (Task's own, also for subclasses), where the compare-and-set runs."""
        return cls._meta.get_field("status").model._base_manager.db_manager(using).all()

    def _transition(self, required, target):
        rows = self._status_rows(self._state.db).filter(pk=self.pk)
        if not rows.filter(status=required).update(status=target):
            raise InvalidTransition(self, rows.values_list("status", flat=True).first(), required, target)
        self.status = target
