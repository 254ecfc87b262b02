"""The worker's main thread: starts the slots, renews leases, recovers dead workers' tasks, wakes idle slots, and
drains on a stop (see the package docstring)."""

import datetime
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.db.models import Count

from ..ingestors import Ingestor, registered_ingestors
from ..models import Task
from ..schedules import Schedule
from .scheduler import Scheduler
from .slots import Slot, log_fields
from .stopping import StopSignals
from .waking import Listener, Waker

logger = logging.getLogger(__package__)

# How often a worker looks for expired leases, at most (and at least every tenth of its own lease); also how often
# idle slots look for work when LISTEN/NOTIFY wakes them (a safety net: a notification is never needed twice).
RECOVERY_INTERVAL = 5.0
# How long the slots of a worker share one reading of when the first deferred task is due (see first_deferred).
DEFERRED_READ_INTERVAL = 0.05
# How often a worker warns about pending tasks of ingestors that no worker of this code can run (and at start).
UNSERVED_WARNING_INTERVAL = 300.0


class Worker:
    """Runs the tasks of `ingestors` ({name: Ingestor}) and of the @task functions in `queues` (names, ALL_QUEUES
    for every queue, None for none) until stopped, enqueueing the slots of `schedules` as they come; see the package
    docstring."""

    def __init__(
        self,
        ingestors: Mapping[str, Ingestor],
        *,
        queues: Iterable[str] | str | None = None,
        schedules: Iterable["Schedule"] = (),
        concurrency: int = 1,
        burst: bool = False,
        lease: float = 300.0,
        max_attempts: int = 3,
        stop_timeout: float = 30.0,
        poll_interval: float = 1.0,
        using: str = DEFAULT_DB_ALIAS,
        identity: str | None = None,
    ) -> None:
        if not ingestors and not queues:
            raise ValueError("A worker needs at least one ingestor or queue to serve.")
        self.ingestors = dict(ingestors)
        self.queues = queues if queues is None or isinstance(queues, str) else tuple(queues)
        self.concurrency = concurrency
        self.burst = burst
        self.lease = lease
        self.max_attempts = max_attempts
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self.using = using
        self.identity = identity or f"{socket.gethostname()}:{os.getpid()}"
        # A burst worker drains what is there: it enqueues nothing of its own.
        self.scheduler = Scheduler(schedules, using, self.identity) if schedules and not burst else None
        self.abandoned: list[Task] = []  # tasks still running when stop_timeout ran out
        self.stopping = False
        self._running: dict[Any, Task] = {}  # pk -> task, for the main thread's lease renewals
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # idle slots wait on it
        self._wakes = 0  # how many times the idle slots were woken, so that a wake between two looks is not lost
        self._active_slots = 0
        self._idle_slots = 0  # slots waiting for work: only then does the main thread read notifications
        self._deferred: tuple[float, datetime.datetime | None] = (-math.inf, None)  # (when read, first due)
        self._crashed = False
        self._waker: Waker | None = None
        self._signals: StopSignals | None = None

    def run(self, ready: Callable[[], None] | None = None) -> int:
        """Serve until stopped, or in burst mode until no task is left to claim; return the exit code. `ready` is
        called once the worker takes SIGTERM and SIGINT as requests to stop (until then they end the process)."""
        self._waker = Waker(Listener.for_database(self.using))
        self._signals = StopSignals(on_first=self._stop_requested, wakeup_fd=self._waker.write_fd)
        try:
            with self._signals:
                if ready is not None:
                    ready()
                self._recover_expired()
                self._warn_unserved()
                while True:
                    self._start_slots()
                    self._supervise()
                    # A burst worker whose slots found nothing left ends here, unless dead workers' tasks came back.
                    if self.stopping or not self.burst or not self._recover_expired()[0]:
                        break
                self._announce_stop()
                code = self._drain()
            return 1 if self._crashed else code
        finally:
            self._waker.close()

    def stop(self) -> None:
        """Stop claiming; running tasks finish (what the first SIGTERM does)."""
        self.stopping = True
        self._wake_slots()
        if self._waker is not None:
            self._waker.wake()

    # What the slots call.

    def register(self, task: Task) -> None:
        with self._lock:
            self._running[task.pk] = task

    def unregister(self, pk: Any) -> None:
        with self._lock:
            self._running.pop(pk, None)

    def wakes(self) -> int:
        """How many times the idle slots were woken so far: a slot reads it before it looks for work."""
        with self._work:
            return self._wakes

    def first_deferred(self, read: Callable[[], datetime.datetime | None]) -> datetime.datetime | None:
        """When the first served task deferred to later is due (None: none is): `read()` from the database, shared
        by the slots for DEFERRED_READ_INTERVAL, since every idle slot asks at every wake-up (one per enqueued task,
        when the workers are idle). A retry this worker schedules forgets it (forget_deferred)."""
        with self._lock:
            read_at, due = self._deferred
        if time.monotonic() - read_at < DEFERRED_READ_INTERVAL:
            return due
        due = read()
        with self._lock:
            self._deferred = (time.monotonic(), due)
        return due

    def forget_deferred(self) -> None:
        with self._lock:
            self._deferred = (-math.inf, None)

    def sleep_unless_woken_since(self, wakes: int, until: float | None = None) -> None:
        """Sleep until woken (or a safety-net timeout, or `until` seconds: a deferred task due), unless a wake came
        since the slot read `wakes()`."""
        timeout = RECOVERY_INTERVAL if self._running_waker.listening else self.poll_interval
        if until is not None:
            timeout = min(timeout, until + 0.001)
        with self._work:
            if self._wakes == wakes and not self.stopping:  # nothing happened since the claim found nothing
                self._idle_slots += 1
                if self._idle_slots == 1:
                    self._running_waker.wake()  # so that the main thread listens again
                self._work.wait(timeout)
                self._idle_slots -= 1

    def database_unavailable(self, error: Exception) -> None:
        """Log it and drop this thread's connection: the next query reconnects, after a poll interval."""
        logger.error("Database unavailable (%s); retrying in %s s.", str(error).strip(), self.poll_interval)
        connections[self.using].close()

    def crash(self) -> None:
        self._crashed = True
        self.stop()

    def slot_ended(self) -> None:
        with self._lock:
            self._active_slots -= 1
        self._running_waker.wake()

    @property
    def _running_waker(self) -> Waker:
        """The waker of run(): the slots and the main loop that use it exist only while the worker runs."""
        if self._waker is None:
            raise RuntimeError("The worker is not running.")
        return self._waker

    # The main thread.

    def _stop_requested(self):
        # Called from the signal handler: only a flag (see StopSignals).
        self.stopping = True

    def _start_slots(self):
        # Daemon threads: a task still running when stop_timeout runs out does not keep the process alive.
        self._active_slots = self.concurrency
        for index in range(self.concurrency):
            threading.Thread(target=Slot(self).run, name=f"task-slot-{index}", daemon=True).start()

    def _supervise(self):
        """Renew leases, recover expired ones and wake idle slots on notifications, until stopped (or, in burst
        mode, until every slot has found nothing to claim)."""
        recover_every = min(RECOVERY_INTERVAL, max(self.lease / 10, 0.05))
        renew_every = self.lease / 3
        next_recovery = time.monotonic() + recover_every
        next_renewal = time.monotonic() + renew_every
        next_warning = time.monotonic() + UNSERVED_WARNING_INTERVAL  # and once at start (run())
        next_schedule = time.monotonic()
        while not self.stopping:
            if self.burst and not self._slots_left():
                return
            try:
                now = time.monotonic()
                if now >= next_recovery:
                    if any(self._recover_expired()):
                        self._wake_slots()
                    next_recovery = now + recover_every
                if now >= next_renewal:
                    self._renew_leases()
                    next_renewal = now + renew_every
                if now >= next_warning:
                    self._warn_unserved()
                    next_warning = now + UNSERVED_WARNING_INTERVAL
                if self.scheduler is not None and now >= next_schedule:
                    self.scheduler.run_due()
                    # Just after the slot (cron's resolution is a minute or a second), and at least every minute.
                    next_schedule = time.monotonic() + min((self.scheduler.seconds_to_next() or 0.0) + 0.01, 60.0)
            except (OperationalError, InterfaceError) as error:
                self.database_unavailable(error)
                self._running_waker.wait(self.poll_interval)
                continue
            # While every slot is busy, notifications wait unread in the socket (a busy worker spends nothing on them);
            # the first slot to go idle wakes this thread, which then reads them all at once.
            with self._lock:
                listen = self._idle_slots > 0
            deadline = min(next_recovery, next_renewal, next_warning)
            if self.scheduler is not None:
                deadline = min(deadline, next_schedule)
            if self._running_waker.wait(deadline - time.monotonic(), listen=listen):
                self._wake_slots()

    def _drain(self):
        """After a stop: let the running tasks finish, renewing their leases, for up to stop_timeout seconds."""
        deadline = time.monotonic() + self.stop_timeout
        next_renewal = time.monotonic() + self.lease / 3
        while self._slots_left() and (now := time.monotonic()) < deadline:
            if now >= next_renewal:
                self._renew_leases()
                next_renewal = now + self.lease / 3
            self._running_waker.wait(min(deadline, next_renewal) - now)
        with self._lock:
            self.abandoned = sorted(self._running.values(), key=lambda task: task.pk)
        if self.abandoned:
            logger.warning(
                "Stopped with %d task(s) still running after %s s (--stop-timeout): %s; their leases will expire "
                "and another worker will run them again.",
                len(self.abandoned),
                self.stop_timeout,
                ", ".join(str(task.pk) for task in self.abandoned),
            )
        return 0  # a graceful stop, as asked: what was still running is safe under its lease

    def _slots_left(self):
        with self._lock:
            return self._active_slots

    def _wake_slots(self):
        with self._work:
            self._wakes += 1
            self._work.notify_all()

    def _recover_expired(self):
        requeued, failed = Task.objects.db_manager(self.using).recover_expired(
            self.max_attempts, task_ingestors=list(self.ingestors), queues=self.queues
        )
        if requeued or failed:
            logger.warning(
                "Leases expired: %d task(s) put back to pending, %d failed after %d attempts.",
                requeued,
                failed,
                self.max_attempts,
            )
        return requeued, failed

    def _warn_unserved(self):
        """Name the pending tasks of ingestors that are not registered: no worker running this code serves them,
        so they would wait forever unnoticed."""
        unserved = (
            Task.objects.db_manager(self.using)
            .pending()
            .filter(result__isnull=True)
            .exclude(task_ingestor__in=list(registered_ingestors()))
            .values_list("task_ingestor")
            .annotate(count=Count("pk"))
            .order_by("task_ingestor")
        )
        found = [f"{name!r} ({count})" for name, count in unserved]
        if found:
            logger.warning(
                "Pending tasks of ingestors no worker serves (none is registered under these names): %s. Register "
                "them with @ingestor, or delete the tasks.",
                ", ".join(found),
            )

    def _renew_leases(self):
        with self._lock:
            running = list(self._running.values())
        for task in running:
            if not task.renew_lease(self.lease):
                logger.warning(
                    "Task %s lost its lease (attempt %s): another worker may be running it now.",
                    task.pk,
                    task.attempts,
                    extra=log_fields(task),
                )

    def _announce_stop(self):
        """After a signal, in the main thread: say what happens now, and wake the idle slots so that they exit."""
        signalled = self._signals.received if self._signals is not None else None
        if signalled:
            with self._lock:
                running = len(self._running)
            logger.info(
                "%s: claiming no more tasks; waiting up to %s s for %d running (%s again exits at once).",
                signalled,
                self.stop_timeout,
                running,
                signalled,
            )
        self._wake_slots()
