"""Django's Tasks framework, from wherever this Django has it: `django.tasks` (Django 6.0+) or the `django-tasks`
backport (Django 5.2). The rest of the task system imports these names from here, so that one code base serves both.
"""

try:
    from django.tasks import (  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]
        DEFAULT_TASK_BACKEND_ALIAS,
        DEFAULT_TASK_QUEUE_NAME,
        Task,
        TaskContext,
        TaskResult,
        TaskResultStatus,
        task,
        task_backends,
    )
    from django.tasks.backends.base import BaseTaskBackend  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]
    from django.tasks.base import TaskError  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]
    from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]
    from django.tasks.signals import task_enqueued, task_finished, task_started  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]
except ImportError:  # Django 5.2: the backport, a dependency of the 5.2 project
    from django_tasks import (  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]
        DEFAULT_TASK_BACKEND_ALIAS,
        DEFAULT_TASK_QUEUE_NAME,
        TaskContext,
        TaskResult,
        TaskResultStatus,
        task,
        task_backends,
    )
    from django_tasks.backends.base import BaseTaskBackend  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]
    from django_tasks.base import Task, TaskError  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]
    from django_tasks.exceptions import InvalidTaskError as InvalidTask  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]
    from django_tasks.exceptions import TaskResultDoesNotExist  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]
    from django_tasks.signals import task_enqueued, task_finished, task_started  # type: ignore[import-not-found, import-untyped, no-redef, unused-ignore]

__all__ = [
    "DEFAULT_TASK_BACKEND_ALIAS",
    "DEFAULT_TASK_QUEUE_NAME",
    "BaseTaskBackend",
    "InvalidTask",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "task",
    "task_backends",
    "task_enqueued",
    "task_finished",
    "task_started",
]
