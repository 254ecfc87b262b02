class InvalidTransition(Exception):
    """A task was asked to move from a status it is not in. Nothing was changed in the database.

    `current` is the status the database holds (None when the task no longer exists), which can differ from the
    status of the instance the caller holds: the message names the real one, so that a stale worker learns why.
    """

    def __init__(self, task, current, required, target):
        self.task = task
        self.current = None if current is None else str(current)
        self.required = str(required)
        self.target = str(target)
        where = "it no longer exists" if current is None else f"its status is {self.current!r}"
        super().__init__(
            f"Cannot move task {task.pk} ({task.name!r}) to {self.target!r}: {where}, "
            f"but {self.required!r} is required."
        )
