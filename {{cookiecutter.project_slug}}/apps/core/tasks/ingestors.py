"""The ingestor registry: which function runs the tasks of each `task_ingestor` name.

    # apps/billing/ingestors.py (every installed app's ingestors.py is imported at start-up, as admin.py is)
    from apps.core.ingestors import ingestor

    @ingestor("invoices")
    def import_invoices(task):
        ...  # return: the task is completed (and deleted); raise: it is failed, the error kept on it

`python manage.py run_tasks` (`apps.core.tasks.worker`) claims the tasks of the registered ingestors and runs them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

from .retries import DEFAULT_RETRY_BACKOFF, RetryPolicy

if TYPE_CHECKING:
    from .models import Task

__all__ = ["Ingestor", "autodiscover", "get_ingestor", "ingestor", "registered_ingestors"]

_registry: dict[str, "Ingestor"] = {}


@dataclass(frozen=True)
class Ingestor:
    name: str
    function: Callable[..., Any]
    # The Task subclass whose instance the function receives (None: Task itself).
    model: "type[Task] | None" = None
    # Runs in all after failures (1: a raising ingestor fails its task at once, as by default).
    retry_policy: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=1))

    @property
    def path(self) -> str:
        return f"{self.function.__module__}.{self.function.__qualname__}"


def ingestor(
    name: str,
    *,
    model: "type[Task] | None" = None,
    max_attempts: int = 1,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the ingestor of tasks whose `task_ingestor` is `name`.

    The function receives the claimed task, status "processing"; for tasks of a Task subclass (multi-table
    inheritance), pass `model=MyTaskModel` and it receives that subclass's instance. Registering a second function
    under a name already taken is a configuration error.

    A raising ingestor fails its task at once. With `max_attempts=N` (N > 1) the task is retried instead, up to N
    runs in all, after `retry_backoff` seconds doubling each time (apps.core.tasks.retries); the last failure fails
    it. Each failure's traceback is kept in `last_error` until the next one.
    """
    if not isinstance(name, str) or not name:
        raise ImproperlyConfigured(f"An ingestor needs a non-empty name (the task_ingestor it handles), not {name!r}.")
    try:
        policy = RetryPolicy(max_attempts, retry_backoff)
    except ValueError as error:
        raise ImproperlyConfigured(f"Ingestor {name!r}: {error}") from None

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        entry = Ingestor(name, function, model, policy)
        existing = _registry.get(name)
        if existing is not None and existing != entry:
            raise ImproperlyConfigured(
                f"Two ingestors are registered for {name!r}: {existing.path} and {entry.path}; a name can have one."
            )
        _registry[name] = entry
        return function

    return register


def get_ingestor(name: str) -> Ingestor:
    """The Ingestor registered as `name`; LookupError naming the registered ones when there is none."""
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise LookupError(f"No ingestor is registered as {name!r} (registered: {known}).") from None


def registered_ingestors() -> dict[str, Ingestor]:
    """{name: Ingestor} of every registered ingestor."""
    return dict(_registry)


def autodiscover() -> None:
    """Import every installed app's `ingestors` module, so that their @ingestor decorators run."""
    autodiscover_modules("ingestors")
