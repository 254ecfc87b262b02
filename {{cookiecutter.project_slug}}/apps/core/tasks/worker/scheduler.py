"""The worker's part in periodic work (apps.core.tasks.schedules): in the main thread, when a slot of a schedule
comes, enqueue it unless another worker already has (the unique PeriodicRun row decides)."""

import logging
from collections.abc import Iterable

from django.utils import timezone

from ..schedules import PeriodicRun, Schedule

logger = logging.getLogger(__package__)


class Scheduler:
    """Runs the latest slot of each schedule once (see the schedules module for the choice about missed slots)."""

    def __init__(self, schedules: Iterable[Schedule], using: str, identity: str) -> None:
        self.schedules = list(schedules)
        self.using = using
        self.identity = identity
        self._tried: dict[str, object] = {}  # key -> the latest slot this worker has settled

    def run_due(self) -> int:
        """Enqueue the slots that came since the last look and no worker has run yet; return how many this
        worker enqueued. A database error propagates (nothing is settled, so the next look tries again)."""
        now = timezone.now()
        enqueued = 0
        for schedule in self.schedules:
            slot = schedule.latest_slot(now)
            if self._tried.get(schedule.key) == slot:
                continue
            run = PeriodicRun.objects.using(self.using).run_once(schedule, slot, worker=self.identity)
            self._tried[schedule.key] = slot
            if run is not None:
                enqueued += 1
                logger.info(
                    "Schedule %r: enqueued the %s slot of %s (as %s).",
                    schedule.cron,
                    slot.isoformat(),
                    schedule.target,
                    run.reference,
                )
        return enqueued

    def seconds_to_next(self) -> float | None:
        """Seconds until the next slot of any schedule, or None without schedules."""
        if not self.schedules:
            return None
        now = timezone.now()
        return min((schedule.next_slot(now) - now).total_seconds() for schedule in self.schedules)
