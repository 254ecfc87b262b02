"""Periodic work: schedules declared in code, enqueued by `manage.py run_tasks` at most once per slot.

    from django.tasks import task            # 5.2: from django_tasks import task
    from apps.core.tasks import periodic

    @periodic("*/5 * * * *")                 # above @task: the function runs every five minutes
    @task
    def refresh_rates(): ...

    periodic("0 3 * * *", ingestor="nightly")  # a Task row for the "nightly" ingestor at 03:00 every day

Cron expressions (croniter's syntax: five fields, or six with seconds last) are read in the project's TIME_ZONE. A bad
one is an ImproperlyConfigured error where it is declared, at start-up.

Every worker takes part in scheduling (unless started with `--no-scheduler`): when a slot comes, each tries to
insert the row (schedule, slot) of `PeriodicRun`, whose unique constraint lets exactly one succeed, and the one that
does enqueues the work in the same transaction. So a slot is run at most once, however many workers on however
many machines, and a worker that dies mid-way leaves neither the row nor the work.

Missed slots (every worker down): a worker runs only the latest slot that has come, once, and skips the ones
before it, so a downtime is followed by one catch-up run, never a burst. A new schedule therefore runs once when
the workers start (its latest slot has not run yet), then at each slot.
"""

import datetime
from dataclasses import dataclass
from typing import Any

from croniter import croniter
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _

from .framework import Task

__all__ = ["PeriodicRun", "Schedule", "autodiscover", "periodic", "registered_schedules"]

_registry: dict[str, "Schedule"] = {}


@dataclass(frozen=True)
class Schedule:
    """A cron expression and what it enqueues: a @task function (called with no arguments) or an ingestor's task."""

    cron: str
    task: Task | None = None
    ingestor: str | None = None

    @property
    def key(self) -> str:
        """The schedule's name in PeriodicRun: the task's path, or "ingestor:<name>"."""
        return self.task.module_path if self.task is not None else f"ingestor:{self.ingestor}"

    @property
    def target(self) -> str:
        return f"task {self.task.module_path}" if self.task is not None else f"ingestor {self.ingestor!r}"

    def latest_slot(self, now: datetime.datetime | None = None) -> datetime.datetime:
        """The latest slot at or before `now`."""
        moment = timezone.localtime(now or timezone.now()) + datetime.timedelta(microseconds=1)
        return croniter(self.cron, moment).get_prev(datetime.datetime)

    def next_slot(self, now: datetime.datetime | None = None) -> datetime.datetime:
        """The first slot after `now`."""
        return croniter(self.cron, timezone.localtime(now or timezone.now())).get_next(datetime.datetime)

    def enqueue(self, slot: datetime.datetime, using: str) -> str:
        """Enqueue this slot's work; return its reference (the TaskResult id, or the Task pk)."""
        if self.task is not None:
            return str(self.task.enqueue().id)
        from .models import Task as QueuedTask

        ingestor = str(self.ingestor)
        queued = QueuedTask.objects.using(using).create(
            name=f"{ingestor} at {slot.isoformat()}", task_ingestor=ingestor
        )
        return str(queued.pk)


def periodic(cron: str, *, ingestor: str | None = None) -> Any:
    """Declare a schedule: `@periodic(cron)` above `@task`, or `periodic(cron, ingestor="name")` (see the module
    docstring). Declaring the same work twice with different expressions is a configuration error."""
    if not isinstance(cron, str) or not croniter.is_valid(cron):
        raise ImproperlyConfigured(f"{cron!r} is not a valid cron expression (e.g. '*/5 * * * *').")
    if ingestor is not None:
        if not isinstance(ingestor, str) or not ingestor:
            raise ImproperlyConfigured(f"periodic() needs an ingestor's name, not {ingestor!r}.")
        return _register(Schedule(cron, ingestor=ingestor))

    def decorate(task: Task) -> Task:
        if not isinstance(task, Task):
            raise ImproperlyConfigured(
                f"@periodic({cron!r}) goes above @task (it schedules a task function), not above {task!r}."
            )
        _register(Schedule(cron, task=task))
        return task

    return decorate


def _register(schedule: Schedule) -> Schedule:
    existing = _registry.get(schedule.key)
    if existing is not None and existing.cron != schedule.cron:
        raise ImproperlyConfigured(
            f"{schedule.target} is scheduled twice: {existing.cron!r} and {schedule.cron!r}; it can have one."
        )
    _registry[schedule.key] = schedule
    return schedule


def registered_schedules() -> dict[str, Schedule]:
    """{key: Schedule} of every declared schedule."""
    return dict(_registry)


def autodiscover() -> None:
    """Import every installed app's `tasks` module, so that the @task functions it schedules are declared."""
    autodiscover_modules("tasks")


class PeriodicRunQuerySet(models.QuerySet["PeriodicRun"]):
    def run_once(self, schedule: Schedule, slot: datetime.datetime, worker: str = "") -> "PeriodicRun | None":
        """Record `slot` of `schedule` and enqueue its work, in one transaction; None when another worker has
        already done it (the unique constraint refused the row)."""
        try:
            with transaction.atomic(using=self.db):
                run: PeriodicRun = self.create(schedule=schedule.key, slot=slot, worker=worker)
                run.reference = schedule.enqueue(slot, self.db)
                run.save(update_fields=["reference"])
        except IntegrityError:
            return None
        return run

    def latest_run(self, schedule: Schedule) -> "PeriodicRun | None":
        return self.filter(schedule=schedule.key).order_by("-slot").first()

    def superseded(self) -> "PeriodicRunQuerySet":
        """Every run but the latest of each schedule (which says a slot was run: never pruned)."""
        newest = self.filter(schedule=models.OuterRef("schedule")).order_by("-slot").values("pk")[:1]
        return self.exclude(pk=models.Subquery(newest))


class PeriodicRun(models.Model):
    """One slot of one schedule, run: the unique (schedule, slot) is what keeps a slot from running twice."""

    schedule = models.CharField(_("schedule"), max_length=255)
    slot = models.DateTimeField(_("slot"))
    enqueued_at = models.DateTimeField(_("enqueued"), default=timezone.now)
    worker = models.CharField(_("worker"), max_length=255, blank=True)
    reference = models.CharField(
        _("enqueued as"), max_length=255, blank=True, help_text=_("The task result's id, or the ingestor task's id.")
    )

    objects = PeriodicRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("periodic run")
        verbose_name_plural = _("periodic runs")
        ordering = ("-slot", "schedule")
        constraints = [models.UniqueConstraint(fields=["schedule", "slot"], name="core_periodicrun_once_per_slot")]

    def __str__(self):
        return f"{self.schedule} at {self.slot.isoformat()}"
