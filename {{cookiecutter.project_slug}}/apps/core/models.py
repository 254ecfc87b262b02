"""The base models every service builds on.

- TrackableModel (abstract): who created and last changed a row, when, and a JSON history of every change.
- TimestampedModel (abstract, a TrackableModel): date_added, date_updated and date_deleted, for soft delete.
- Task: a unit of work moving pending -> processing -> processed (then deleted) or failed.

The models stay thin; the machinery lives in three rooms beside this module: `audit/` (the history's field, the
snapshot of what an instance holds as stored, entries, the SQL that appends them, the acting user), `softdelete/`
(managers that hide deleted rows, the soft cascade and restore) and `tasks/` (the Task model, claiming, ingestors,
the worker).
"""

from collections.abc import Collection, Iterable, Sequence
from typing import Any, ClassVar, Self, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.checks import CheckMessage
from django.core.exceptions import ValidationError
from django.db import models, router
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .audit import checks as audit_checks
from .audit import entries, erasure, retention, sequence, tracker
from .audit.archive import ArchivedHistory
from .audit.django_internals import transaction_marker
from .audit.fields import HistoryField
from .audit.querysets import TrackableManager
from .softdelete import cascade
from .softdelete import checks as softdelete_checks
from .softdelete.fields import DeletionDateField
from .softdelete.managers import AliveManager, TimestampedManager
from .tasks.exceptions import InvalidTransition
from .tasks.models import Task

__all__ = ["ArchivedHistory", "InvalidTransition", "Task", "TimestampedModel", "TrackableModel"]


class TrackableModel(models.Model):
    """Records who created and last changed each row, and when, and keeps every change in `history`.

    The old values of a change come from a snapshot taken when the row was loaded, and the database appends the
    entry inside the statement that saves the row: a save is one statement, and concurrent writers never lose one
    another's entries. Like Model.save(), a save writes every loaded field; its entry lists the tracked fields this
    instance changed.
    """

    # First of the audit fields: on INSERT its pre_save() stamps created_at and created_by, which are read after it.
    history = HistoryField(_("history"), default=list, blank=True, editable=False)
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

    # Names of fields (secrets, say) whose values must never be written to the history. A subclass adds names to
    # its parents'; it cannot take one away.
    history_exclude: ClassVar[Sequence[str]] = ()
    # The audit fields themselves: kept up to date on every write, not diffed.
    history_bookkeeping_fields: ClassVar[tuple[str, ...]] = (
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
        "history",
    )

    objects: ClassVar[TrackableManager[Self]] = TrackableManager()
    # Every row, audited, whatever `objects` a model defines: Django's base manager (used for related objects,
    # refresh_from_db(), cascades), which must not filter rows.
    all_objects: ClassVar[TrackableManager[Self]] = TrackableManager()

    class Meta:
        abstract = True
        default_manager_name = "objects"
        base_manager_name = "all_objects"

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_history_peers", None)
        state.pop("_history_fetched", None)  # tied to this process's transaction markers: read again if needed
        if "_stored" in state:
            state["_stored"] = state["_stored"].portable()
        return state

    def save(
        self,
        *,
        force_insert: bool | tuple[models.base.ModelBase, ...] = False,
        force_update: bool = False,
        using: str | None = None,
        update_fields: Iterable[str] | None = None,
    ) -> None:
        if update_fields is not None and not update_fields:
            return  # Django's rule: an empty update_fields saves nothing, so it records nothing either.
        using = using or router.db_for_write(type(self), instance=self)
        with tracker.writing(self, using, update_fields) as write:
            stamped = self._stamp_update(write.now, write.user)
            if update_fields is not None:
                update_fields = {*update_fields, *stamped, "history"}
            super().save(
                force_insert=force_insert, force_update=force_update, using=using, update_fields=update_fields
            )
        retention.after_save(self, using)  # a history past the model's history_row_limit moves to the archive

    save.alters_data = True  # type: ignore[attr-defined]

    @classmethod
    def history_of(cls, pk: Any, using: str | None = None) -> sequence.HistoryOfRow:
        """The complete history of the row keyed `pk`, whether it is alive, soft-deleted or deleted for real, oldest
        first: its archived entries, then the row's own. A sequence (len(), indexing, slicing, iteration) that reads
        the database lazily, a page at a time."""
        return sequence.history_of(cls, pk, using)

    def redact_history(self, *, fields: Iterable[str], reason: str, using: str | None = None) -> int:
        """Replace the recorded values of `fields` in every entry of this row's history (in the row and in the
        archive) with a marker, and add a "redact" entry naming the fields and the reason. Returns the number of
        entries redacted."""
        using = using or router.db_for_write(type(self), instance=self)
        redacted = erasure.redact(type(self), self.pk, fields, reason, using)
        tracker.forget_history(self)
        return redacted

    redact_history.alters_data = True  # type: ignore[attr-defined]

    async def ahistory(self) -> list[dict[str, Any]]:
        """The history, from async code: reading `history` may query the database, which async code must not do
        directly."""
        return await sync_to_async(getattr)(self, "history")

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any) -> Self:
        instance = super().from_db(db, field_names, values, **kwargs)
        tracker.remember_loaded(instance)
        # A history not loaded with the row stays deferred, as Django sees it (get_deferred_fields(), FieldTracker);
        # the history field's descriptor reads it when first needed, for the whole batch of rows.
        if "history" in instance.__dict__:
            tracker.state_of(instance).history_marker = transaction_marker(db)
        return instance

    def refresh_from_db(
        self,
        using: str | None = None,
        fields: Iterable[str] | None = None,
        from_queryset: models.QuerySet[Self] | None = None,
    ) -> None:
        # While Django refreshes, a history not loaded counts as loaded: Django then reads the other fields as the
        # given queryset says (as for an instance with nothing deferred), and copies no history it did not read.
        if fields is not None and "history" in fields and from_queryset is None:
            # The base manager defers the history, and only() of a deferred field would read every column.
            from_queryset = type(self)._base_manager.db_manager(using, hints={"instance": self}).defer(None)
        before = self.__dict__.setdefault("history", tracker.NOT_LOADED)
        try:
            with tracker.raw_history_reads():
                super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        finally:
            if self.__dict__.get("history") is tracker.NOT_LOADED:
                del self.__dict__["history"]
        if fields is None and self.__dict__.get("history") is before:
            tracker.forget_history(self)  # not read again: what memory holds may be stale
        tracker.remember_loaded(self, entries.tracked_among(type(self), None if fields is None else set(fields)))
        if "history" in self.__dict__:
            tracker.state_of(self).history_marker = transaction_marker(self._state.db)

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        # The history is written by the audit trail, never by a form: validating it would only load it.
        super().clean_fields(exclude={*(exclude or ()), "history"})

    @classmethod
    def check(cls, **kwargs: Any) -> list[CheckMessage]:
        return [*super().check(**kwargs), *audit_checks.check_trackable_model(cls)]

    @classmethod
    def _update_stamps(cls, now, user):
        """{attname: value} of the audit fields every write sets."""
        return {"updated_at": now, "updated_by_id": user.pk if user is not None else None}

    def _stamp_update(self, now, user):
        """Stamp this write on the instance; return the names of the fields stamped."""
        stamps = self._update_stamps(now, user)
        for attname, value in stamps.items():
            setattr(self, attname, value)
        return list(stamps)

    def _stamp_creation(self, now, user):
        """Stamp the creation of the row. A created_by set on a new instance by its caller (an import, say) is
        kept; one copied from another row is not."""
        if self.__dict__.get("created_by_id") is None or tracker.known_values(self):
            self.created_by_id = user.pk if user is not None else None
        self.created_at = now
        self._stamp_update(now, user)


class TimestampedModel(TrackableModel):
    """A TrackableModel with date_added, date_updated and soft delete through date_deleted.

    `objects` hides deleted rows; `all_objects` sees every row, and so does Django's own machinery (validation,
    model forms, serializers, dumpdata, the admin and cascades use the default and base managers, which are
    `all_objects`). `delete()` only marks a row deleted, with its timestamped children reached through CASCADE
    foreign keys; `restore()` brings back exactly those; `hard_delete()` removes the row for real.
    """

    date_added = models.DateTimeField(_("date added"), default=timezone.now, editable=False)
    date_updated = models.DateTimeField(_("date updated"), default=timezone.now, editable=False)
    date_deleted = DeletionDateField(_("date deleted"), null=True, blank=True, editable=False, db_index=True)

    history_bookkeeping_fields: ClassVar[tuple[str, ...]] = (
        *TrackableModel.history_bookkeeping_fields,
        "date_added",
        "date_updated",
    )

    # all_objects first: the first manager is Django's default one, even where a subclass's own Meta drops
    # default_manager_name.
    # Timestamped managers build on TimestampedQuerySet, not on TrackableModel's manager class (mypy: no subtype).
    all_objects: ClassVar[TimestampedManager[Self]] = TimestampedManager()  # type: ignore[assignment]
    objects: ClassVar[AliveManager[Self]] = AliveManager()  # type: ignore[assignment]

    class Meta(TrackableModel.Meta):
        abstract = True
        default_manager_name = "all_objects"
        base_manager_name = "all_objects"

    def delete(self, using: str | None = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        """Mark the row deleted, and its timestamped CASCADE children with it; each gets a "delete" entry. Returns
        what Model.delete() would: (rows marked, {model label: rows}); (0, {}) when the row was already deleted or
        is gone."""
        if self.pk is None:
            raise ValueError(
                f"{self._meta.object_name} object can't be deleted because its {self._meta.pk.attname} attribute is "
                "set to None."
            )
        if keep_parents:
            raise ValueError(
                "A soft delete marks the whole row, its parents' part included: keep_parents=True cannot apply. "
                "Use hard_delete(keep_parents=True) to delete only the child's own row."
            )
        return cascade.delete(self, using or router.db_for_write(type(self), instance=self))

    delete.alters_data = True  # type: ignore[attr-defined]

    def restore(self, using: str | None = None) -> int:
        """Undo the soft delete of the row and of the children its deletion cascaded to, each with a "restore"
        entry. Returns the number of rows restored."""
        return cascade.restore(self, using or router.db_for_write(type(self), instance=self))

    restore.alters_data = True  # type: ignore[attr-defined]

    async def arestore(self, using: str | None = None) -> int:
        return await sync_to_async(self.restore)(using=using)

    arestore.alters_data = True  # type: ignore[attr-defined]

    def hard_delete(self, using: str | None = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        """Remove the row from the database for real, as Model.delete() does."""
        return super().delete(using=using, keep_parents=keep_parents)

    hard_delete.alters_data = True  # type: ignore[attr-defined]

    @property
    def is_deleted(self) -> bool:
        return self.date_deleted is not None

    def unique_error_message(self, model_class: type[models.Model], unique_check: Sequence[str]) -> ValidationError:
        """The clash as Django reports it, unless only deleted rows hold the value: then the message says so, and
        that restoring the row is the other way out."""
        error = super().unique_error_message(model_class, unique_check)  # type: ignore[arg-type, unused-ignore]
        if error.code in ("unique", "unique_together") and cascade.only_deleted_rows_clash(
            self, model_class, unique_check
        ):
            opts = model_class._meta
            # A unique check names concrete fields, never relations.
            labels = [str(cast(models.Field, opts.get_field(name)).verbose_name) for name in unique_check]
            error.message = _("A deleted %(model)s already has this %(fields)s. Restore it, or choose another value.")
            error.params = {**(error.params or {}), "model": opts.verbose_name, "fields": " / ".join(labels)}
        return error

    @classmethod
    def check(cls, **kwargs: Any) -> list[CheckMessage]:
        return [*super().check(**kwargs), *softdelete_checks.check_timestamped_model(cls)]

    @classmethod
    def _update_stamps(cls, now, user):
        return {**super()._update_stamps(now, user), "date_updated": now}

    def _stamp_creation(self, now, user):
        self.date_added = now
        super()._stamp_creation(now, user)
