"""The project's backend for Django's Tasks framework: `@task` functions enqueued with Django's API are stored in the
project's task table and run by `manage.py run_tasks`, beside the ingestors, under the same leases and wake-ups.

    TASKS = {
        "default": {
            "BACKEND": "apps.core.tasks.backend.DatabaseBackend",
            "QUEUES": ["default"],            # Django's: the queue names allowed ([] allows any)
            "OPTIONS": {
                "max_attempts": 3,           # runs in all, the first included (1: no retry)
                "retry_backoff": 2,          # seconds before the first retry, doubling each time (with jitter)
                "result_retention_days": 7,  # what `manage.py prune_tasks` keeps
                "database": "default",       # the database alias of the task table
            },
        }
    }

Every feature of the framework is supported: `run_after` (defer), priorities (-100..100, higher first), queues,
async functions, `takes_context=True` (the context carries the attempt number and the result so far) and
`get_result()` from any process. `@task(max_attempts=5, retry_backoff=10)` overrides the retry options for one
function (this backend's `task_class` takes them; another backend's decorator would refuse them).

Enqueueing writes the Task row and its result (apps.core.tasks.results) in one transaction: inside a caller's
`transaction.atomic()` the task exists, wakes workers (PostgreSQL NOTIFY) and sends `task_enqueued` only once the
caller's transaction commits, and not at all if it rolls back.
"""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models.sql import InsertQuery

from .framework import BaseTaskBackend, InvalidTask, Task, TaskResult, TaskResultDoesNotExist, task_enqueued
from .retries import DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_BACKOFF, RetryPolicy

__all__ = ["DatabaseBackend", "RetryingTask"]

OPTIONS = {"max_attempts", "retry_backoff", "result_retention_days", "database"}
DEFAULT_RESULT_RETENTION_DAYS = 7


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryingTask(Task):
    """Django's Task, plus this backend's retry options for one function (None: the backend's OPTIONS)."""

    max_attempts: int | None = None
    retry_backoff: float | None = None


class DatabaseBackend(BaseTaskBackend):
    """See the module docstring."""

    task_class = RetryingTask
    supports_defer = True
    supports_priority = True
    supports_async_task = True
    supports_get_result = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        unknown = sorted(set(self.options) - OPTIONS)
        if unknown:
            raise ImproperlyConfigured(
                f"TASKS[{alias!r}]['OPTIONS'] has unknown option(s) {', '.join(map(repr, unknown))}; "
                f"{type(self).__name__} takes {', '.join(sorted(OPTIONS))}."
            )
        try:
            self.retry_policy = RetryPolicy(
                self.options.get("max_attempts", DEFAULT_MAX_ATTEMPTS),
                self.options.get("retry_backoff", DEFAULT_RETRY_BACKOFF),
            )
        except ValueError as error:
            raise ImproperlyConfigured(f"TASKS[{alias!r}]['OPTIONS']: {error}") from None
        self.result_retention_days = self.options.get("result_retention_days", DEFAULT_RESULT_RETENTION_DAYS)
        if isinstance(self.result_retention_days, bool) or not (
            isinstance(self.result_retention_days, int | float) and self.result_retention_days >= 0
        ):
            raise ImproperlyConfigured(
                f"TASKS[{alias!r}]['OPTIONS']: result_retention_days must be a number of days, 0 or more, not "
                f"{self.result_retention_days!r}."
            )
        self.database = self.options.get("database", DEFAULT_DB_ALIAS)

    def policy(self, task: Task) -> RetryPolicy:
        """The retry policy of `task`: its own options where it sets them, the backend's otherwise."""
        return RetryPolicy(
            _first_set(getattr(task, "max_attempts", None), self.retry_policy.max_attempts),
            _first_set(getattr(task, "retry_backoff", None), self.retry_policy.retry_backoff),
        )

    def validate_task(self, task: Task) -> None:
        super().validate_task(task)
        try:
            self.policy(task)
        except ValueError as error:
            raise InvalidTask(f"Task {task.module_path}: {error}") from None

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        # The models are imported here: a @task decorator may run (creating this backend) before they are ready.
        from .models import Task as QueuedTask
        from .results import TaskResultRecord

        self.validate_task(task)
        _check_findable(task)
        args, kwargs = _json_arguments(task, list(args), dict(kwargs))
        policy = self.policy(task)
        record = TaskResultRecord(
            task_path=task.module_path,
            backend=self.alias,
            queue_name=task.queue_name,
            priority=task.priority,
            run_after=task.run_after,
            args=args,
            kwargs=kwargs,
            max_attempts=policy.max_attempts,
            retry_backoff=policy.retry_backoff,
        )
        queued = QueuedTask(
            name=task.name,
            task_ingestor=task.module_path,
            queue_name=task.queue_name,
            priority=task.priority,
            run_after=task.run_after,
            result=record,
        )
        _insert_together(self.database, record, queued)
        result = record.as_task_result(task)
        transaction.on_commit(
            lambda: task_enqueued.send(type(self), task_result=result), using=self.database, robust=True
        )
        return result

    def get_result(self, result_id: str) -> TaskResult:
        from .results import TaskResultRecord

        try:
            key = uuid.UUID(str(result_id))
        except ValueError:
            raise TaskResultDoesNotExist(result_id) from None
        queryset = TaskResultRecord.objects.using(self.database).select_related("queued_task")
        try:
            record = queryset.get(pk=key, backend=self.alias)
        except TaskResultRecord.DoesNotExist:
            raise TaskResultDoesNotExist(result_id) from None
        return record.as_task_result()


def _insert_together(using: str, *instances: models.Model) -> None:
    """Insert the rows of `instances` (new, their primary keys set or generated by the database) atomically: on
    PostgreSQL in one statement, `WITH first AS (INSERT ...) INSERT ...` (one round trip: enqueueing costs what one
    INSERT costs; the foreign key between them is checked at commit), elsewhere in one transaction."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        with transaction.atomic(using=using):
            for instance in instances:
                instance.save(force_insert=True, using=using)
        return
    statements = []
    for instance in instances:
        meta = instance._meta
        # Every column but an auto-incremented key (the database gives it); db_default columns get their values.
        fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]
        query = InsertQuery(type(instance))
        query.insert_values(fields, [instance])
        ((sql, params),) = query.get_compiler(using=using).as_sql()
        statements.append((sql, list(params)))
    *first, (last_sql, last_params) = statements
    ctes = ", ".join(f"inserted_{number} AS ({sql})" for number, (sql, _) in enumerate(first))
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {ctes} {last_sql}", [*(p for _, params in first for p in params), *last_params])
    for instance in instances:
        instance._state.adding, instance._state.db = False, using


def _first_set(*values: Any) -> Any:
    return next(value for value in values if value is not None)


def _check_findable(task: Task) -> None:
    """A worker finds the function by its path: refuse one that the path does not lead back to."""
    from .results import load_task

    try:
        found = load_task(task.module_path)
    except Exception as error:
        raise InvalidTask(f"Task {task.module_path} cannot be enqueued: {error}") from None
    if found.func is not task.func:
        raise InvalidTask(
            f"Task {task.module_path} cannot be enqueued: that path leads to another function, so a worker could "
            "not find this one."
        )


def _json_arguments(task: Task, args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The arguments as the worker will receive them (through JSON); TypeError naming the one that cannot be."""
    named = [(f"argument {index}", value) for index, value in enumerate(args)]
    named += [(f"keyword argument {name!r}", value) for name, value in kwargs.items()]
    for where, value in named:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"Task {task.module_path} cannot be enqueued: {where} ({type(value).__name__}) is not "
                f"JSON-serialisable ({error}); pass ids and plain values."
            ) from None
    return json.loads(json.dumps(args)), json.loads(json.dumps(kwargs))
