"""A slot: one thread of a worker, with its own database connection, running one task at a time."""

import logging
import time
import traceback
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.models import Min
from django.db.models.functions import Now
from django.utils import timezone

from ...audit.context import task_context
from ...audit.current_user import acting_as
from ..exceptions import InvalidTransition, LeaseLost
from ..models import Task
from .jobs import FunctionJob, IngestorJob

if TYPE_CHECKING:
    from .loop import Worker

logger = logging.getLogger(__package__)


class Slot:
    """Claims a task, runs it, finishes it and claims the next in the same transaction (one commit per task), until
    the worker stops (or, in burst mode, until nothing is left to claim)."""

    def __init__(self, worker: "Worker") -> None:
        self.worker = worker
        self._begun: dict[object, FunctionJob] = {}  # task pk -> its job, begun in the claiming transaction

    def run(self) -> None:
        worker = self.worker
        try:
            task = None
            while not worker.stopping:
                task = task or self._next_task()
                if task is None:
                    break
                task = self._execute(task)
        except Exception:
            # A bug or a broken database, not a task's failure: stop the worker (exit code 1) so that its
            # supervisor restarts it, rather than serve on with a slot fewer.
            logger.exception("A task slot stopped on an unexpected error; stopping the worker.")
            worker.crash()
        finally:
            connections.close_all()  # this thread's own connections
            worker.slot_ended()

    def claim(self, register: bool = True) -> Task | None:
        """One task for this slot, as its ingestor's model, registered as running unless told not to; or None.

        A @task function's attempt is counted in its result (status RUNNING, this worker's id) in the claiming
        transaction, which is the finishing transaction of the slot's previous task when there was one: one commit
        per task, as for ingestors."""
        worker = self.worker
        with transaction.atomic(using=worker.using, savepoint=False):
            claimed = Task.objects.db_manager(worker.using).claim(
                1,
                task_ingestors=list(worker.ingestors),
                queues=worker.queues,
                worker=worker.identity,
                lease=worker.lease,
            )
            if not claimed:
                return None
            task = claimed[0]
            if task.result_id is not None:
                job = FunctionJob(task, worker.identity, worker.using)
                job.begin()
                self._begun = {task.pk: job}
        model = worker.ingestors[task.task_ingestor].model if task.result_id is None else None
        if model is not None and not isinstance(task, model):
            task = model._base_manager.db_manager(worker.using).filter(pk=task.pk).first() or task
        if register:
            worker.register(task)
        return task

    def _next_task(self):
        """Claim a task, sleeping until woken while there is none; None once stopping (or, in burst mode, when
        there is nothing to claim)."""
        worker = self.worker
        while not worker.stopping:
            wakes = worker.wakes()
            try:
                task = self.claim()
            except (OperationalError, InterfaceError) as error:
                worker.database_unavailable(error)
                task = None
            if task is not None or worker.burst:
                return task
            worker.sleep_unless_woken_since(wakes, until=self._next_deferred())
        return None

    def _next_deferred(self):
        """Seconds until the first served task deferred to later (a retry, a run_after) is due, or None."""
        worker = self.worker

        def read():
            deferred = Task.objects.db_manager(worker.using).pending().serving(list(worker.ingestors), worker.queues)
            return deferred.filter(run_after__gt=Now()).aggregate(due=Min("run_after"))["due"]

        try:
            due = worker.first_deferred(read)
        except (OperationalError, InterfaceError):
            return None  # the next claim reports it
        return None if due is None else max((due - timezone.now()).total_seconds(), 0.0)

    def _job(self, task):
        if task.result_id is not None:
            return self._begun.pop(task.pk, None) or FunctionJob(task, self.worker.identity, self.worker.using)
        return IngestorJob(task, self.worker.ingestors[task.task_ingestor])

    def _execute(self, task):
        """Run the task (its ingestor, or its @task function) and finish it; return the next task claimed
        meanwhile, if any."""
        job = self._job(task)
        fields = log_fields(task)
        logger.info("Task %s started (%s, attempt %s)", task.pk, job.label, task.attempts, extra=fields)
        started = time.monotonic()
        try:
            job.start()
            # Entries written by the task's code carry the task in their "ctx" (apps.core.audit.context).
            with task_context(task.pk, task.task_ingestor), acting_as(getattr(task, "acting_user", None)):
                job.run()
        except Exception as error:
            return self._finish(task, job, fields, started, failure=error)
        except BaseException:
            logger.exception("Task %s interrupted; its lease will expire.", task.pk, extra=fields)
            raise
        return self._finish(task, job, fields, started)

    def _finish(self, task, job, fields, started, failure=None):
        """Complete, retry or fail the task (unless its attempt lost the lease) and, unless stopping, claim the next
        task in the same transaction: one commit for both. Log one line; return the next task or None."""
        worker = self.worker
        forget_broken_connection(worker.using)
        duration = time.monotonic() - started
        pk = fields["task_id"]  # the task's own pk is None once completing deleted it
        fields = {**fields, "duration": duration}
        where = f"({job.label}, attempt {task.attempts})"
        next_task = None
        retry_at = None
        try:
            with transaction.atomic(using=worker.using):
                if failure is None:
                    job.succeed()
                else:
                    retry_at = job.fail(failure)
                if not worker.stopping:
                    next_task = self.claim(register=False)
        except LeaseLost as lost:
            logger.warning(
                "Task %s finished after %.3f s %s but lost its lease: %s", pk, duration, where, lost, extra=fields
            )
            return None
        except InvalidTransition as refused:
            logger.warning("Task %s finished after %.3f s %s: %s", pk, duration, where, refused, extra=fields)
            return None
        except DatabaseError as error:
            forget_broken_connection(worker.using)
            logger.error(
                "Task %s finished after %.3f s %s, but its outcome could not be saved (%s); its lease will expire.",
                pk,
                duration,
                where,
                error,
                extra=fields,
            )
            return None
        finally:
            worker.unregister(pk)
        if next_task is not None:
            worker.register(next_task)  # only now: had the transaction rolled back, the claim would have too
        if retry_at is not None:
            worker.forget_deferred()  # the idle slots' next look must see this retry
        try:
            job.finished()
        except Exception:
            logger.exception("Task %s: a task_finished receiver raised.", pk, extra=fields)
        if failure is None:
            logger.info("Task %s completed in %.3f s %s", pk, duration, where, extra=fields)
        else:
            summary = "".join(traceback.format_exception_only(failure)).strip().replace("\n", " ")
            if retry_at is not None:
                wait = max((retry_at - timezone.now()).total_seconds(), 0.0)
                logger.warning(
                    "Task %s failed in %.3f s %s: %s; retrying in %.1f s",
                    pk,
                    duration,
                    where,
                    summary,
                    wait,
                    extra={**fields, "retry_at": retry_at.isoformat()},
                )
            else:
                logger.error("Task %s failed in %.3f s %s: %s", pk, duration, where, summary, extra=fields)
        return next_task


def log_fields(task: Task) -> dict[str, Any]:
    """Structured logging fields of a task, for handlers that keep them (JSON formatters, Sentry)."""
    return {"task_id": task.pk, "ingestor": task.task_ingestor, "attempt": task.attempts}


def forget_broken_connection(using: str) -> None:
    """After a database error, drop this thread's connection if it is no longer usable (it reconnects on next use)."""
    connection = connections[using]
    if connection.connection is not None and connection.errors_occurred and not connection.in_atomic_block:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()
