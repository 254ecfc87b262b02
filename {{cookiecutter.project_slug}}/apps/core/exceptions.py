class InvalidTransition(Exception):
    """A task was asked to move from a status it is not in. Nothing was changed in the database."""

    def __init__(self, task, current, required, target):
        self.task = task
        self.current = current
        self.required = required
        self.target = target
        where = "it no longer exists" if current is None else f"its status is {current!r}"
        super().__init__(
            f"Cannot move task {task.pk} ({task.name!r}) to {target!r}: {where}, and {required!r} is required."
        )
