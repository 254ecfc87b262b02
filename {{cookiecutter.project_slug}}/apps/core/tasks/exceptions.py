from typing import Any


class InvalidTransition(Exception):
    """A task was asked to move from a status it is not in. Nothing was changed in the database.

    `current` is the status the database holds (None when the task no longer exists), which can differ from the
    status of the instance the caller holds: the message names the real one, so that a stale worker learns why.
    """

    def __init__(
        self, task: Any, current: object, required: object, target: object, message: str | None = None
    ) -> None:
        self.task = task
        self.current = None if current is None else str(current)
        self.required = str(required)
        self.target = str(target)
        if message is None:
            where = "it no longer exists" if current is None else f"its status is {self.current!r}"
            message = (
                f"Cannot move task {task.pk} ({task.name!r}) to {self.target!r}: {where}, "
                f"but {self.required!r} is required."
            )
        super().__init__(message)


class LeaseLost(InvalidTransition):
    """The task is still "processing", but no longer by the attempt this instance was claimed for: its lease expired
    and the task was handed out again (`holder` is the worker now holding it, `attempt` that claim's number).

    A worker that gets this must leave the task alone: another attempt owns it now. Nothing was changed.
    """

    def __init__(self, task: Any, required: object, target: object, holder: str, attempt: int) -> None:
        self.holder = holder
        self.attempt = attempt
        held_by = f"worker {holder}" if holder else "no worker"
        super().__init__(
            task,
            required,
            required,
            target,
            message=(
                f"Cannot move task {task.pk} ({task.name!r}) to {str(target)!r}: its lease was lost. Attempt "
                f"{task.attempts} by {task.worker or 'no worker'} no longer holds it; attempt {attempt} by "
                f"{held_by} does."
            ),
        )


class WorkerLost(Exception):
    """The error a task's result shows when it was failed without raising: its last attempt's worker died (lease
    expired, see `TaskQuerySet.recover_expired`), or someone failed it by hand; its traceback is the reason given."""


class TaskUnrunnable(Exception):
    """A worker claimed the task of a @task function it cannot run: the function cannot be imported from its path,
    or its stored result is gone. The task is failed with the reason at once (no retry could help)."""
