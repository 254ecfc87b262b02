"""Where the work of a @task function is kept: its arguments, its status, every attempt's worker and error, and its
return value, readable through Django's `TaskResult` (`backend.get_result(id)`) until `manage.py prune_tasks`
removes it after the retention period.

A `TaskResultRecord` is written with its Task row (the queue entry the worker claims, apps.core.tasks.models) in
the enqueueing transaction, and outlives it: completing a task deletes the Task row and writes the return value in
the same transaction, so a result is written exactly once. While the Task row exists its status is the truth (a
retry, a requeue, a lease recovered), and the result reads it from there.
"""

import datetime
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from django.db import connections, models
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from ..audit.expressions import column_of
from .exceptions import TaskUnrunnable, WorkerLost
from .framework import DEFAULT_TASK_QUEUE_NAME, Task, TaskError, TaskResult, TaskResultStatus
from .retries import DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_BACKOFF

if TYPE_CHECKING:
    from .models import Task as TaskRow

__all__ = ["TaskResultRecord", "load_task"]

Status = TaskResultStatus
FINISHED = (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
# How a queued Task row's status reads as a result's.
QUEUED_STATUS = {
    "pending": TaskResultStatus.READY,
    "processing": TaskResultStatus.RUNNING,
    "failed": TaskResultStatus.FAILED,
}


def load_task(path: str) -> Task:
    """The @task function at `path`; TaskUnrunnable saying why when there is none."""
    try:
        found = import_string(path)
    except ImportError as error:
        raise TaskUnrunnable(f"Cannot import the task function {path!r}: {error}") from error
    if not isinstance(found, Task):
        raise TaskUnrunnable(f"{path!r} is not a @task function but {type(found).__name__} {found!r}.")
    return found


class TaskResultRecordQuerySet(models.QuerySet["TaskResultRecord", "TaskResultRecord"]):
    def finished(self) -> "TaskResultRecordQuerySet":
        return self.filter(status__in=FINISHED)

    def expired(self, days: float, now: datetime.datetime | None = None) -> "TaskResultRecordQuerySet":
        """Results that ended more than `days` ago: what `prune_tasks` removes. Finished ones by when they
        finished; those failed without a word from their worker (it died on the last attempt, or someone failed
        the task by hand) by their last attempt."""
        before = (now or timezone.now()) - datetime.timedelta(days=days)
        failed_silently = models.Q(queued_task__status="failed", last_attempted_at__lt=before)
        return self.filter(models.Q(status__in=FINISHED, finished_at__lt=before) | failed_silently)

    def start_attempt(self, pk: uuid.UUID, worker_id: str) -> "TaskResultRecord | None":
        """Count an attempt by `worker_id` in result `pk` (status RUNNING, its worker id appended, the times set)
        and return the result as it now stands; None if there is no such result.

        A worker does it for every task it claims, so on PostgreSQL and SQLite it is one statement, `UPDATE ...
        RETURNING`, the id appended in SQL; elsewhere, a read and a write (the caller holds the task's lease, so no
        one else writes the result meanwhile)."""
        connection = connections[self.db]
        now = timezone.now()
        if connection.vendor not in _APPEND_SQL:
            record = self.filter(pk=pk).first()
            if record is not None:
                record.status = TaskResultStatus.RUNNING
                record.started_at = record.started_at or now
                record.last_attempted_at = now
                record.worker_ids = [*record.worker_ids, worker_id]
                record.save(update_fields=["status", "started_at", "last_attempted_at", "worker_ids"])
            return record
        meta = self.model._meta
        quote = connection.ops.quote_name
        column = {field.name: quote(column_of(field)) for field in meta.concrete_fields}
        stamp = cast(models.Field, meta.get_field("started_at")).get_db_prep_save(now, connection)
        appended, worker_param = _APPEND_SQL[connection.vendor]
        sql = (
            f"UPDATE {quote(meta.db_table)} SET {column['status']} = %s, "  # noqa: S608 (quoted names, parameters)
            f"{column['started_at']} = COALESCE({column['started_at']}, %s), {column['last_attempted_at']} = %s, "
            f"{column['worker_ids']} = {appended.format(column=column['worker_ids'])} "
            f"WHERE {column['id']} = %s RETURNING {', '.join(column.values())}"
        )
        params = [
            TaskResultStatus.RUNNING.value,
            stamp,
            stamp,
            worker_param(worker_id),
            meta.pk.get_db_prep_value(pk, connection),
        ]
        return next(iter(self.raw(sql, params)), None)


# How start_attempt() appends a worker id to the JSON list, per database: the SQL and the parameter it takes.
_APPEND_SQL: dict[str, tuple[str, Callable[[str], str]]] = {
    "postgresql": ("{column} || %s::jsonb", json.dumps),
    "sqlite": ("json_insert({column}, '$[#]', %s)", str),
}


class TaskResultRecord(models.Model):
    """One enqueued run of a @task function, from enqueue to its last attempt (see the module docstring)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task_path = models.CharField(_("task"), max_length=255, db_index=True)
    backend = models.CharField(_("backend"), max_length=255, default="default")
    queue_name = models.CharField(_("queue"), max_length=255, default=DEFAULT_TASK_QUEUE_NAME)
    priority = models.SmallIntegerField(_("priority"), default=0)
    run_after = models.DateTimeField(_("run after"), null=True, blank=True)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    max_attempts = models.PositiveIntegerField(_("max attempts"), default=DEFAULT_MAX_ATTEMPTS)
    retry_backoff = models.FloatField(_("retry backoff (s)"), default=DEFAULT_RETRY_BACKOFF)
    status = models.CharField(_("status"), max_length=10, choices=TaskResultStatus.choices, default=Status.READY)
    enqueued_at = models.DateTimeField(_("enqueued"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    last_attempted_at = models.DateTimeField(_("last attempted"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True, db_index=True)
    return_value = models.JSONField(_("return value"), null=True, blank=True)
    # [{"exception_class_path": ..., "traceback": ...}] and ["host:pid", ...], one entry per attempt.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    worker_ids = models.JSONField(_("workers"), default=list, blank=True)

    objects = TaskResultRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("task result")
        verbose_name_plural = _("task results")
        ordering = ("-enqueued_at",)

    def __str__(self):
        return f"{self.task_path} ({self.id})"

    @property
    def queued(self) -> "TaskRow | None":
        """The Task row still holding this work (pending, processing, or failed), or None once it completed."""
        try:
            return self.queued_task
        except models.ObjectDoesNotExist:
            return None

    @property
    def current_status(self) -> str:
        queued = self.queued
        return QUEUED_STATUS.get(queued.status, self.status) if queued is not None else self.status

    @property
    def attempts(self) -> int:
        return len(self.worker_ids)

    def current_errors(self) -> list[dict[str, str]]:
        """Every attempt's error, and the reason a task was failed without raising (its worker died, or it was
        failed by hand) when that is how it ended."""
        queued = self.queued
        if queued is not None and queued.status == "failed" and self.status != Status.FAILED:
            lost = {"exception_class_path": f"{WorkerLost.__module__}.{WorkerLost.__qualname__}"}
            return [*self.errors, {**lost, "traceback": queued.last_error}]
        return list(self.errors)

    def task(self, task: Task | None = None) -> Task:
        """The framework's Task as it was enqueued (the function at `task_path`, with this run's options)."""
        task = task if task is not None else load_task(self.task_path)
        options: dict[str, Any] = {
            "priority": self.priority,
            "queue_name": self.queue_name,
            "run_after": self.run_after,
            "backend": self.backend,
        }
        if all(getattr(task, name) == value for name, value in options.items()):
            return task  # as declared: no copy (each one is validated again by the backend)
        return replace(task, **options)

    def as_task_result(self, task: Task | None = None) -> TaskResult:
        """Django's TaskResult of this run, as it stands."""
        result: TaskResult = TaskResult(
            task=self.task(task),
            id=str(self.id),
            status=TaskResultStatus(self.current_status),
            enqueued_at=self.enqueued_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            last_attempted_at=self.last_attempted_at,
            args=list(self.args),
            kwargs=dict(self.kwargs),
            backend=self.backend,
            errors=[TaskError(**error) for error in self.current_errors()],
            worker_ids=list(self.worker_ids),
        )
        value: Any = self.return_value if result.status == Status.SUCCESSFUL else None
        object.__setattr__(result, "_return_value", value)
        return result
