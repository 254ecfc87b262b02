"""What a slot does with the task it claimed: run an ingestor on the Task row, or a @task function from its stored
result, and record the outcome (completed, retried later, or failed) in the slot's finishing transaction.

Both kinds go through the same steps, so a slot handles them alike: `start()` (outside any transaction), `run()`
(the user's code), then `succeed()` or `fail(error)` inside the transaction that also claims the next task, and
`finished()` once it committed (the framework's signals).
"""

import datetime
import json
import traceback

from django.db import transaction
from django.utils import timezone

from ..exceptions import TaskUnrunnable
from ..framework import Task as FrameworkTask
from ..framework import TaskContext, TaskResult, TaskResultStatus, task_finished, task_started
from ..ingestors import Ingestor
from ..models import Task, TaskResultRecord
from ..retries import RetryPolicy


def format_error(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


class IngestorJob:
    """A task of a registered ingestor: the function receives the Task row itself."""

    def __init__(self, task: Task, ingestor: Ingestor) -> None:
        self.task = task
        self.ingestor = ingestor
        self.label = f"ingestor {ingestor.name!r}"

    def start(self) -> None:
        pass

    def run(self) -> None:
        self.ingestor.function(self.task)

    def succeed(self) -> None:
        self.task.complete_processing()

    def fail(self, error: BaseException) -> datetime.datetime | None:
        """Retry later when the ingestor allows another attempt (return when), else fail the task (None)."""
        retry_at = self.ingestor.retry_policy.next_run(self.task.attempts)
        if retry_at is not None:
            self.task.retry_later(retry_at, error=format_error(error))
        else:
            self.task.fail_processing(error=format_error(error))
        return retry_at

    def finished(self) -> None:
        pass


class FunctionJob:
    """A task of a @task function: its path, arguments and options are in its TaskResultRecord, which receives
    each attempt's worker and error and, at the end, the return value (see apps.core.tasks.results)."""

    def __init__(self, task: Task, worker_id: str, using: str) -> None:
        self.task = task
        self.worker_id = worker_id
        self.using = using
        self.label = f"task {task.task_ingestor!r}"
        self.record: TaskResultRecord | None = None
        self.function: FrameworkTask | None = None
        self.result: TaskResult | None = None
        self.final = False
        self.begun = False
        self.unrunnable: TaskUnrunnable | None = None

    @property
    def sender(self) -> type:
        from ..backend import DatabaseBackend

        return type(self.function.get_backend()) if self.function is not None else DatabaseBackend

    def begin(self) -> None:
        """Count this attempt in the result (status RUNNING, this worker's id), in the claiming transaction. A
        result or a function that cannot be loaded is noted, to fail the task when it starts (never raised here,
        where it would roll back the claim, and the previous task's completion with it)."""
        self.begun = True
        result_id = self.task.result_id
        records = TaskResultRecord.objects.using(self.using)
        record = None if result_id is None else records.start_attempt(result_id, self.worker_id)
        if record is None:
            self.unrunnable = TaskUnrunnable(f"The result {result_id} of this task is gone (pruned or deleted).")
            return
        record.queued_task = self.task  # what the result's status reads, already at hand
        self.record = record
        try:
            self.function = record.task()
        except TaskUnrunnable as error:
            self.unrunnable = error
        except Exception as error:  # a queue or a priority the backend no longer accepts, say
            self.unrunnable = TaskUnrunnable(f"Cannot load the task function {record.task_path!r}: {error}")

    def start(self) -> None:
        """After the claim committed: TaskUnrunnable if the task cannot run, else send `task_started`."""
        if not self.begun:
            with transaction.atomic(using=self.using):
                self.begin()
        if self.unrunnable is not None:
            raise self.unrunnable
        record, function = self._started()
        self.result = record.as_task_result(function)
        task_started.send(self.sender, task_result=self.result)

    def _started(self) -> tuple[TaskResultRecord, FrameworkTask]:
        """The result and the function that start() loaded (start() raised if it could not)."""
        if self.record is None or self.function is None:
            raise TaskUnrunnable("The task was not started.")
        return self.record, self.function

    def run(self) -> None:
        record, function = self._started()
        if function.takes_context:
            context: TaskContext = TaskContext(
                task_result=record.as_task_result(function) if self.result is None else self.result
            )
            value = function.call(context, *record.args, **record.kwargs)
        else:
            value = function.call(*record.args, **record.kwargs)
        try:
            record.return_value = json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{record.task_path} returned a {type(value).__name__}, which cannot be kept as its result: {error}"
            ) from None

    def succeed(self) -> None:
        record, _ = self._started()
        self.task.complete_processing()
        record.status = TaskResultStatus.SUCCESSFUL
        record.finished_at = timezone.now()
        record.save(update_fields=["status", "finished_at", "return_value"])
        self.final = True

    def fail(self, error: BaseException) -> datetime.datetime | None:
        """Retry later if the result's policy allows another attempt and a retry could help (return when); else
        fail the task and its result (None)."""
        record = self.record
        retry_at = None
        if record is not None and not isinstance(error, TaskUnrunnable):
            retry_at = RetryPolicy(record.max_attempts, record.retry_backoff).next_run(self.task.attempts)
        if retry_at is not None:
            self.task.retry_later(retry_at, error=format_error(error))
        else:
            self.task.fail_processing(error=format_error(error))
            self.final = True
        if record is not None:
            kind = type(error)
            record.errors = [
                *record.errors,
                {"exception_class_path": f"{kind.__module__}.{kind.__qualname__}", "traceback": format_error(error)},
            ]
            record.status = TaskResultStatus.READY if retry_at is not None else TaskResultStatus.FAILED
            record.finished_at = None if retry_at is not None else timezone.now()
            record.return_value = None
            record.save(update_fields=["errors", "status", "finished_at", "return_value"])
        return retry_at

    def finished(self) -> None:
        """Send `task_finished` once the task ended (succeeded, or failed with no attempt left)."""
        if self.final and self.record is not None and self.function is not None:
            task_finished.send(self.sender, task_result=self.record.as_task_result(self.function))
