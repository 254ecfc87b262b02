"""Retries after a failure: how many attempts a task gets and how long it waits before the next one.

The n-th retry waits `retry_backoff * 2 ** (n - 1)` seconds, stretched by a random jitter of up to a quarter
(never shortened), so that tasks failing together (an API down) do not all come back at the same instant. The wait
is scheduled through the task's `run_after`: the task goes back to pending, and no worker claims it before then.

`max_attempts` counts the first run: 3 means a first run and up to two retries. The same counter also counts the
claims of workers that died (see `TaskQuerySet.recover_expired`), so a task never runs more often than it allows.
"""

import datetime
import random
from dataclasses import dataclass

from django.utils import timezone

__all__ = ["DEFAULT_MAX_ATTEMPTS", "DEFAULT_RETRY_BACKOFF", "JITTER", "RetryPolicy"]

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_BACKOFF = 2.0
# The most a wait is stretched by, as a fraction of it.
JITTER = 0.25


@dataclass(frozen=True)
class RetryPolicy:
    """How often a task may run in all (`max_attempts`) and the wait before its first retry (`retry_backoff`)."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry_backoff: float = DEFAULT_RETRY_BACKOFF

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"max_attempts must be a whole number of at least 1, not {self.max_attempts!r}.")
        if (
            isinstance(self.retry_backoff, bool)
            or not isinstance(self.retry_backoff, int | float)
            or not 0 <= self.retry_backoff < float("inf")
        ):
            raise ValueError(f"retry_backoff must be a number of seconds, 0 or more, not {self.retry_backoff!r}.")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after attempt number `attempt` (1 for the first run) failed, jitter included."""
        base = self.retry_backoff * 2 ** (attempt - 1)
        return base * (1 + JITTER * random.random())  # noqa: S311 (spreading retries, not a secret)

    def next_run(self, attempt: int) -> datetime.datetime | None:
        """When to run the next attempt after attempt `attempt` failed; None when it was the last one allowed."""
        if attempt >= self.max_attempts:
            return None
        return timezone.now() + datetime.timedelta(seconds=self.delay(attempt))
