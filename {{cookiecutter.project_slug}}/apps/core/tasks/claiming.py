"""How workers take tasks: `Task.objects.claim()`, one statement that never hands a task out twice, and
`Task.objects.recover_expired()`, which gives the tasks of dead workers back (or fails them after the last attempt)."""

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from django.db import connections, models
from django.db.models.functions import Concat, Now
from django.utils import timezone

from ..audit.expressions import column_of

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.options import Options

    from .models import Task

# The most tasks one claim() may take: a bound that keeps its statement sane on every database.
MAX_CLAIM = 10_000
# claim(queues=ALL_QUEUES): the tasks of @task functions in every queue.
ALL_QUEUES = "*"


class TaskQuerySet(models.QuerySet["Task", "Task"]):
    def pending(self) -> "TaskQuerySet":
        return self.filter(status=self.model.Status.PENDING)

    def ready(self) -> "TaskQuerySet":
        """Pending tasks that may run now: not deferred, or deferred to a moment already past (database clock)."""
        return self.pending().filter(models.Q(run_after__isnull=True) | models.Q(run_after__lte=Now()))

    def lease_expired(self, now: datetime.datetime | None = None) -> "TaskQuerySet":
        """Tasks still "processing" whose worker stopped renewing their lease (it died, was killed, or hangs)."""
        return self.filter(status=self.model.Status.PROCESSING, lease_expires_at__lt=now or timezone.now())

    def serving(
        self, task_ingestors: Iterable[str] | None = None, queues: Iterable[str] | str | None = None
    ) -> "TaskQuerySet":
        """The tasks a worker serving these would take: the tasks of the ingestors named in `task_ingestors`, and
        the tasks of @task functions in the `queues` named (or in every queue: ALL_QUEUES). With neither given,
        every task; with one given, only what it names. An empty selection matches nothing."""
        selection = _selection(task_ingestors, queues)
        return self.none() if selection is None else self.filter(selection)

    def claim(
        self,
        count: int = 1,
        task_ingestor: str | None = None,
        *,
        task_ingestors: Iterable[str] | None = None,
        queues: Iterable[str] | str | None = None,
        worker: str = "",
        lease: float | datetime.timedelta | None = None,
    ) -> "list[Task]":
        """Atomically take the `count` first pending tasks ready to run and return them, now "processing", in the
        order taken: highest `priority` first, then oldest first. Tasks deferred (`run_after`) to a later moment
        of the database's clock are left alone.

        `task_ingestor` limits it to one ingestor's tasks, `task_ingestors` to several, and `queues` to the tasks
        of @task functions in those queues (`ALL_QUEUES`: any); given together they add up (see `serving`). Each
        claimed task's `attempts` goes up by one and `started_at` is set; `worker` (the claimer's "host:pid") is
        recorded, and `lease` (seconds or a timedelta) sets `lease_expires_at`, after which the task counts as
        abandoned (see `recover_expired`). Without a lease a claimed task never expires, as before leases existed.
        `count` is a whole number from 1 to MAX_CLAIM; anything else is a ValueError and claims nothing.

        One statement does it: `WITH oldest AS (<first ready> FOR UPDATE SKIP LOCKED) UPDATE ... SET status =
        'processing', ... WHERE id IN oldest RETURNING ...`. On PostgreSQL concurrent workers skip one another's
        locked rows instead of queueing behind them, so each gets different tasks at once; on SQLite the single
        UPDATE is serialised by the database lock. A Task subclass (multi-table inheritance) returns the ids and
        loads its rows in a second query.
        """
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_CLAIM:
            raise ValueError(f"claim() takes a count from 1 to {MAX_CLAIM:,}, not {count!r}.")
        if task_ingestor is not None and task_ingestors is not None:
            raise ValueError("claim() takes task_ingestor (one name) or task_ingestors (several), not both.")
        if task_ingestor is not None:
            task_ingestors = (task_ingestor,)
        if task_ingestors is not None:
            task_ingestors = tuple(task_ingestors)
        # A tuple (hashable: the statement cache's key), ALL_QUEUES or None.
        served_queues = queues if queues is None or isinstance(queues, str) else tuple(queues)
        if _selection(task_ingestors, served_queues) is None:
            return []
        connection = connections[self.db]
        table = self.model._meta.get_field("status").model._meta
        own_table = table.concrete_model is self.model._meta.concrete_model
        sql, oldest_params = self._claim_statement(connection, table, own_table, count, task_ingestors, served_queues)
        now = timezone.now()
        if isinstance(lease, int | float):
            lease = datetime.timedelta(seconds=lease)
        stamps = {"started_at": now, "lease_expires_at": None if lease is None else now + lease, "worker": worker}
        stamp_params = [_field(table, name).get_db_prep_save(stamps[name], connection) for name in _CLAIM_STAMPS]
        params = [*oldest_params, self.model.Status.PROCESSING, *stamp_params, self.model.Status.PENDING]
        tasks: list[Task]
        if own_table:
            tasks = list(self.model._base_manager.db_manager(self.db).raw(sql, params))
        else:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                pks = [pk for (pk,) in cursor.fetchall()]
            tasks = list(self.filter(pk__in=pks)) if pks else []
        return sorted(tasks, key=lambda task: (-task.priority, task.datetime, task.pk))

    def _claim_statement(
        self,
        connection: "BaseDatabaseWrapper",
        table: "Options[Any]",
        own_table: bool,
        count: int,
        task_ingestors: Iterable[str] | None,
        queues: Iterable[str] | str | None,
    ) -> tuple[str, tuple[Any, ...]]:
        """(sql, params of the candidates) of claim(). A worker claims in a loop, so the statement of an unfiltered
        queryset is built once per process and shape (count, ingestors, queues); a filtered one every time."""
        key = (self.model, connection.alias, count, task_ingestors, queues)
        cacheable = not self.query.where and not self.query.is_sliced
        if cacheable and key in _CLAIM_STATEMENTS:
            return _CLAIM_STATEMENTS[key]
        candidates = self.ready().serving(task_ingestors, queues)
        oldest = candidates.order_by(*CLAIM_ORDER).values("pk")[:count]
        oldest_sql, oldest_params = oldest.query.get_compiler(connection=connection).as_sql()
        if connection.features.has_select_for_update_skip_locked:
            oldest_sql = f"{oldest_sql} {connection.ops.for_update_sql(skip_locked=True)}"
        quote = connection.ops.quote_name
        column = {name: quote(_column(table, name)) for name in ("status", "attempts")}
        assignments = ", ".join(f"{quote(_column(table, name))} = %s" for name in _CLAIM_STAMPS)
        returned = table.concrete_fields if own_table else [table.pk]
        # The candidates are a MATERIALIZED CTE so they are chosen once: as a plain IN (subquery), PostgreSQL may
        # run the LIMIT subquery more than once and hand out more than `count` tasks. Identifiers are quoted names
        # from the model; every value is a parameter.
        sql = (
            f"WITH oldest AS MATERIALIZED ({oldest_sql}) "  # noqa: S608
            f"UPDATE {quote(table.db_table)} SET {column['status']} = %s, "
            f"{column['attempts']} = {column['attempts']} + 1, {assignments} "
            f"WHERE {column['status']} = %s AND {quote(column_of(table.pk))} IN (SELECT * FROM oldest) "
            f"RETURNING {', '.join(quote(column_of(field)) for field in returned)}"
        )
        statement = (sql, tuple(oldest_params))
        if cacheable:
            if len(_CLAIM_STATEMENTS) >= 256:
                _CLAIM_STATEMENTS.clear()
            _CLAIM_STATEMENTS[key] = statement
        return statement

    def recover_expired(
        self,
        max_attempts: int = 3,
        task_ingestors: Iterable[str] | None = None,
        queues: Iterable[str] | str | None = None,
    ) -> tuple[int, int]:
        """Give back the tasks whose lease expired (their worker died): pending again, to be claimed by any worker,
        or failed, with a `last_error` that says so, once `max_attempts` claims have been spent on them.

        Two UPDATE statements, each a compare-and-set on "processing" with an expired lease, so a worker renewing
        its lease at the same moment either keeps the task or finds it gone, never both. Returns (requeued, failed).
        """
        if max_attempts < 1:
            raise ValueError(f"recover_expired() needs max_attempts of at least 1, not {max_attempts!r}.")
        Status = self.model.Status
        # Task's own table (also for a subclass's queryset), where the compare-and-set runs.
        expired = self.model._status_rows(self.db).filter(
            status=Status.PROCESSING, lease_expires_at__lt=timezone.now()
        )
        selection = _selection(task_ingestors, queues)
        if selection is None:
            return 0, 0
        expired = expired.filter(selection)
        failed = expired.filter(attempts__gte=max_attempts).update(
            status=Status.FAILED,
            lease_expires_at=None,
            last_error=_reason(
                "Gave up after attempt ",
                models.F("attempts"),
                f" of {max_attempts}: its lease expired while worker ",
                models.F("worker"),
                " was running it (the worker died, was killed, or hung).",
            ),
        )
        requeued = expired.filter(attempts__lt=max_attempts).update(
            status=Status.PENDING,
            lease_expires_at=None,
            started_at=None,
            worker="",
            last_error=_reason(
                "The lease of attempt ",
                models.F("attempts"),
                " expired while worker ",
                models.F("worker"),
                " was running it (the worker died, was killed, or hung); the task was put back to pending.",
            ),
        )
        return requeued, failed


# The order claim() takes tasks in (the index core_task_claim_order serves it).
CLAIM_ORDER = ("-priority", "datetime", "pk")
# What claim() sets besides status and attempts, in the order of its statement's parameters.
_CLAIM_STAMPS = ("started_at", "lease_expires_at", "worker")
_CLAIM_STATEMENTS: dict[tuple[Any, ...], tuple[str, tuple[Any, ...]]] = {}


def _selection(task_ingestors, queues):
    """The Q of `TaskQuerySet.serving()`: Q() for everything, None for nothing."""
    if task_ingestors is None and queues is None:
        return models.Q()
    parts = []
    if task_ingestors:
        parts.append(models.Q(result__isnull=True, task_ingestor__in=list(task_ingestors)))
    if queues == ALL_QUEUES:
        parts.append(models.Q(result__isnull=False))
    elif queues:
        parts.append(models.Q(result__isnull=False, queue_name__in=list(queues)))
    if not parts:
        return None
    selection = parts[0]
    for part in parts[1:]:
        selection |= part
    return selection


def _field(opts: "Options[Any]", name: str) -> models.Field:
    return cast(models.Field, opts.get_field(name))  # a concrete field of Task, never a relation


def _column(opts: "Options[Any]", name: str) -> str:
    return column_of(_field(opts, name))


def _reason(*parts):
    """A message built in the database from text and column values (each row gets its own)."""
    return Concat(
        *(models.Value(part) if isinstance(part, str) else part for part in parts), output_field=models.TextField()
    )
