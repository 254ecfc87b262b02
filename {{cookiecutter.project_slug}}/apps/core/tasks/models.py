"""Task: a unit of work moving pending -> processing -> processed (then deleted) or failed, and back from failed to
pending with `requeue()` (or, for a retry after a failure, from processing to pending with `retry_later()`).

Every transition is one compare-and-set UPDATE (`... WHERE status = <required>`), so two workers can never both
start the same task and a stale instance cannot move a task that another worker has already moved. A task claimed by
a worker (`Task.objects.claim(worker=..., lease=...)`) also carries a lease: the worker renews it while the task runs,
and when it expires (the worker died) any worker may claim the task again. The transitions that leave "processing"
compare the attempt too, so a worker whose lease was taken over can neither complete nor fail the task.

Defined here, imported into `apps.core.models` (`from apps.core.models import Task`).
"""

import datetime
from datetime import datetime as _DateTime  # Task.datetime is a field: the type by another name
from typing import Any

from django.db import models, transaction
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .claiming import TaskQuerySet
from .exceptions import InvalidTransition, LeaseLost

# The task system's other models, registered with the app through this module (apps.core.models imports it).
from .results import TaskResultRecord
from .schedules import PeriodicRun

__all__ = ["PeriodicRun", "Task", "TaskResultRecord"]


class Task(models.Model):
    """A unit of work for the ingestor named by `task_ingestor` (see `apps.core.ingestors`)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSING = "processing", _("Processing")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("name"), max_length=255)
    task_ingestor = models.CharField(_("task ingestor"), max_length=255, db_index=True)
    datetime = models.DateTimeField(_("created"), default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    # Set when a worker claims the task; see the module docstring.
    started_at = models.DateTimeField(_("processing started"), null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True, editable=False)
    attempts = models.PositiveIntegerField(
        _("attempts"), default=0, editable=False, help_text=_("Claims since the task was created or requeued.")
    )
    worker = models.CharField(
        _("worker"), max_length=255, blank=True, editable=False, help_text=_("host:pid of the worker running it.")
    )
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    # Where the task waits and how soon it runs (apps.core.tasks.backend sets them for @task functions; an
    # ingestor's task may set them too): claims take the highest priority first, never before run_after.
    queue_name = models.CharField(
        _("queue"),
        max_length=255,
        blank=True,
        default="",
        db_default="",
        help_text=_("The queue of a @task function's task."),
    )
    # Defaults in the database too, so that rows inserted by other means (raw SQL, other services) stay valid.
    priority = models.SmallIntegerField(
        _("priority"), default=0, db_default=0, help_text=_("Higher runs first (-100 to 100).")
    )
    run_after = models.DateTimeField(
        _("run after"), null=True, blank=True, help_text=_("Not claimed before then (a deferred task, or a retry).")
    )
    # Set for the task of a @task function: its arguments, result and errors (apps.core.tasks.results), which
    # outlive the Task row (deleted when it completes).
    result = models.OneToOneField(
        "core.TaskResultRecord",
        verbose_name=_("result"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.CASCADE,
        related_name="queued_task",
    )

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ("datetime", "pk")
        # The order claims take pending tasks in (see TaskQuerySet.claim).
        indexes = [models.Index(fields=["status", "-priority", "datetime"], name="core_task_claim_order")]

    def __str__(self):
        return f"{self.name} ({self.get_status_display()})"

    @property
    def lease_expired(self) -> bool:
        """Processing, but its worker stopped renewing the lease: it will be claimed again (or failed)."""
        return (
            self.status == self.Status.PROCESSING
            and self.lease_expires_at is not None
            and self.lease_expires_at < timezone.now()
        )

    def start_processing(self) -> None:
        """pending -> processing (by hand: no worker, no lease)."""
        self._transition(self.Status.PENDING, self.Status.PROCESSING, started_at=timezone.now())

    start_processing.alters_data = True  # type: ignore[attr-defined]

    def complete_processing(self) -> None:
        """processing -> processed, then delete the record (both or neither).

        When Django would delete the row with a plain DELETE (no cascades, no delete signals: its fast-delete rule),
        both happen in that one statement, `DELETE ... WHERE status = 'processing'` (and the same attempt), since no
        one could see the row as "processed" in between. Otherwise the status moves first, locking the row, and the
        record is deleted (with its cascades and signals) in the same transaction.
        """
        rows = self._rows().filter(status=self.Status.PROCESSING, **self._attempt())
        if Collector(using=rows.db, origin=self).can_fast_delete(rows):
            deleted, _ = rows.delete()
            if not deleted:
                raise self._refusal(self._rows(), self.Status.PROCESSING, self.Status.PROCESSED)
            self.status, self.lease_expires_at, self.pk = self.Status.PROCESSED, None, None  # as Model.delete() does
            return
        with transaction.atomic(using=self._state.db):
            self._transition(self.Status.PROCESSING, self.Status.PROCESSED, lease_expires_at=None)
            self.delete()

    complete_processing.alters_data = True  # type: ignore[attr-defined]

    def fail_processing(self, error: object = None) -> None:
        """processing -> failed, keeping `error` (a traceback, a reason) in `last_error` when one is given."""
        changes: dict[str, Any] = {"lease_expires_at": None}
        if error is not None:
            changes["last_error"] = str(error)
        self._transition(self.Status.PROCESSING, self.Status.FAILED, **changes)

    fail_processing.alters_data = True  # type: ignore[attr-defined]

    def retry_later(self, run_after: _DateTime, error: object = None) -> None:
        """processing -> pending, not to be claimed before `run_after`: a retry after a failure (see
        apps.core.tasks.retries). `attempts` is kept, so that the attempts left are counted from it; `error` is kept
        in `last_error` when one is given. Like the other moves out of "processing", it compares the attempt.

        A `run_after` that is not in the future (a retry with no backoff) is stored as None, due at once: claims
        compare it with the database's clock, and SQLite's reads milliseconds, so a retry due this very microsecond
        would stay out of reach for up to a millisecond, long enough for a burst worker to end without it."""
        due = None if run_after <= timezone.now() else run_after
        changes: dict[str, Any] = {"lease_expires_at": None, "started_at": None, "worker": "", "run_after": due}
        if error is not None:
            changes["last_error"] = str(error)
        self._transition(self.Status.PROCESSING, self.Status.PENDING, **changes)

    retry_later.alters_data = True  # type: ignore[attr-defined]

    def requeue(self) -> None:
        """failed -> pending, with a fresh allowance of attempts. `last_error` is kept until the next failure."""
        self._transition(
            self.Status.FAILED,
            self.Status.PENDING,
            attempts=0,
            started_at=None,
            lease_expires_at=None,
            worker="",
            run_after=None,
        )

    requeue.alters_data = True  # type: ignore[attr-defined]

    def renew_lease(self, seconds: float) -> bool:
        """Push this attempt's lease `seconds` into the future. False when the attempt no longer holds the task
        (its lease expired and it was handed out again, or it was moved on): its worker must then let it go."""
        expires = timezone.now() + datetime.timedelta(seconds=seconds)
        held = self._rows().filter(status=self.Status.PROCESSING, **self._attempt()).update(lease_expires_at=expires)
        if held:
            self.lease_expires_at = expires
        return bool(held)

    renew_lease.alters_data = True  # type: ignore[attr-defined]

    @classmethod
    def _status_rows(cls, using=None):
        """The table that holds `status` (Task's own, also for subclasses), where the compare-and-set runs."""
        return cls._meta.get_field("status").model._base_manager.db_manager(using).all()

    def _rows(self):
        return self._status_rows(self._state.db).filter(pk=self.pk)

    def _attempt(self):
        """What identifies this instance's claim: a transition out of "processing" requires it to be unchanged."""
        return {"worker": self.worker, "attempts": self.attempts}

    def _transition(self, required, target, **changes):
        rows = self._rows()
        expected = self._attempt() if required == self.Status.PROCESSING else {}
        if not rows.filter(status=required, **expected).update(status=target, **changes):
            raise self._refusal(rows, required, target)
        self.status = target
        for name, value in changes.items():
            setattr(self, name, value)

    def _refusal(self, rows, required, target):
        """Why a compare-and-set matched no row, read back from the database."""
        current = rows.values_list("status", "worker", "attempts").first()
        if current is None:
            return InvalidTransition(self, None, required, target)
        status, worker, attempts = current
        if status == required:
            return LeaseLost(self, required, target, holder=worker, attempt=attempts)
        return InvalidTransition(self, status, required, target)
