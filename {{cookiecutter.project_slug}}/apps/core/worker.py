"""The task worker behind `python manage.py run_tasks`.

One worker process runs `concurrency` slot threads and a main thread:

- Each slot thread has its own database connection and runs one task at a time: it claims the oldest pending task
  of the ingestors served (`Task.objects.claim`, SKIP LOCKED on PostgreSQL), runs its ingestor (outside any
  transaction, acting as nobody unless the task names an `acting_user`), then `complete_processing()` or, if the
  ingestor raised, `fail_processing()` with the traceback, and claims its next task in the same transaction: one
  commit per task. Both transitions compare the attempt, so a worker whose lease was taken over leaves the task to
  the attempt that holds it. With nothing to claim, a slot sleeps until woken.
- The main thread renews the leases of the running tasks (every third of the lease), gives back the tasks of dead
  workers (`Task.objects.recover_expired`), handles signals, and wakes the idle slots when there may be work: a
  PostgreSQL NOTIFY (a trigger sends one whenever a task becomes pending, however it was written). Without
  LISTEN/NOTIFY, idle slots look again every poll interval.

Threads rather than processes: ingestors mostly wait on the database, files and HTTP, where threads overlap as well
as processes do at a fraction of the memory; scale CPU-bound work with more worker processes (see the README).

Stopping: the first SIGTERM or SIGINT stops claiming and lets running tasks finish for up to `stop_timeout`
seconds, then exit 0 (tasks still running are left to their leases); a second one exits at once (128 + the signal).
"""

import contextlib
import logging
import os
import select
import signal
import socket
import threading
import time
import traceback

from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections, transaction

from .current_user import acting_as
from .exceptions import InvalidTransition, LeaseLost
from .task_model import Task

__all__ = ["PENDING_CHANNEL", "Worker"]

logger = logging.getLogger(__name__)

# The channel the trigger of migration 0002 notifies, with the task's ingestor as the payload.
PENDING_CHANNEL = "core_task_pending"

# How often a worker looks for expired leases, at most (and at least every tenth of its own lease); also how often
# idle slots look for work when LISTEN/NOTIFY wakes them (a safety net: a notification is never needed twice).
RECOVERY_INTERVAL = 5.0


class Worker:
    """Runs the tasks of `ingestors` ({name: Ingestor}) until stopped; see the module docstring."""

    def __init__(
        self,
        ingestors,
        *,
        concurrency=1,
        burst=False,
        lease=300.0,
        max_attempts=3,
        stop_timeout=30.0,
        poll_interval=1.0,
        using=DEFAULT_DB_ALIAS,
        identity=None,
    ):
        if not ingestors:
            raise ValueError("A worker needs at least one ingestor to serve.")
        self.ingestors = dict(ingestors)
        self.concurrency = concurrency
        self.burst = burst
        self.lease = lease
        self.max_attempts = max_attempts
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self.using = using
        self.identity = identity or f"{socket.gethostname()}:{os.getpid()}"
        self.abandoned = []  # tasks still running when stop_timeout ran out
        self._running = {}  # pk -> task, for the main thread's lease renewals
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # idle slots wait on it
        self._wakes = 0  # how many times the idle slots were woken, so that a wake between two looks is not lost
        self._active_slots = 0
        self._idle_slots = 0  # slots waiting for work: only then does the main thread read notifications
        self._stopping = False
        self._signalled = None  # the name of the first stop signal received
        self._crashed = False
        self._waker = None

    # The main thread.

    def run(self):
        """Serve until stopped, or in burst mode until no task is left to claim; return the exit code."""
        self._waker = _Waker(_Listener.for_database(self.using))
        previous_handlers = self._handle_signals()
        try:
            self._recover_expired()
            while True:
                self._start_slots()
                self._supervise()
                # A burst worker whose slots found nothing left ends here, unless dead workers' tasks came back.
                if self._stopping or not self.burst or not self._recover_expired()[0]:
                    break
            self._announce_stop()
            code = self._drain()
            return 1 if self._crashed else code
        finally:
            self._restore_signals(previous_handlers)
            self._waker.close()

    def stop(self):
        """Stop claiming; running tasks finish (what the first SIGTERM does)."""
        self._stopping = True
        self._wake_slots()
        if self._waker is not None:
            self._waker.wake()

    def _start_slots(self):
        # Daemon threads: a task still running when stop_timeout runs out does not keep the process alive.
        self._active_slots = self.concurrency
        for index in range(self.concurrency):
            threading.Thread(target=self._slot, name=f"task-slot-{index}", daemon=True).start()

    def _supervise(self):
        """Renew leases, recover expired ones and wake idle slots on notifications, until stopped (or, in burst
        mode, until every slot has found nothing to claim)."""
        recover_every = min(RECOVERY_INTERVAL, max(self.lease / 10, 0.05))
        renew_every = self.lease / 3
        next_recovery = time.monotonic() + recover_every
        next_renewal = time.monotonic() + renew_every
        while not self._stopping:
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
            except (OperationalError, InterfaceError) as error:
                self._database_unavailable(error)
                self._waker.wait(self.poll_interval)
                continue
            # While every slot is busy, notifications wait unread in the socket (a busy worker spends nothing on them);
            # the first slot to go idle wakes this thread, which then reads them all at once.
            with self._lock:
                listen = self._idle_slots > 0
            if self._waker.wait(min(next_recovery, next_renewal) - time.monotonic(), listen=listen):
                self._wake_slots()

    def _drain(self):
        """After a stop: let the running tasks finish, renewing their leases, for up to stop_timeout seconds."""
        deadline = time.monotonic() + self.stop_timeout
        next_renewal = time.monotonic() + self.lease / 3
        while self._slots_left() and (now := time.monotonic()) < deadline:
            if now >= next_renewal:
                self._renew_leases()
                next_renewal = now + self.lease / 3
            self._waker.wait(min(deadline, next_renewal) - now)
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

    def _database_unavailable(self, error):
        """Log it and drop this thread's connection: the next query reconnects, after a poll interval."""
        logger.error("Database unavailable (%s); retrying in %s s.", str(error).strip(), self.poll_interval)
        connections[self.using].close()

    def _slots_left(self):
        with self._lock:
            return self._active_slots

    def _wake_slots(self):
        with self._work:
            self._wakes += 1
            self._work.notify_all()

    def _recover_expired(self):
        requeued, failed = Task.objects.db_manager(self.using).recover_expired(
            self.max_attempts, task_ingestors=list(self.ingestors)
        )
        if requeued or failed:
            logger.warning(
                "Leases expired: %d task(s) put back to pending, %d failed after %d attempts.",
                requeued,
                failed,
                self.max_attempts,
            )
        return requeued, failed

    def _renew_leases(self):
        with self._lock:
            running = list(self._running.values())
        for task in running:
            if not task.renew_lease(self.lease):
                logger.warning(
                    "Task %s lost its lease (attempt %s): another worker may be running it now.",
                    task.pk,
                    task.attempts,
                    extra=_fields(task),
                )

    # The slot threads.

    def _slot(self):
        """Claim, run, finish and claim the next, until stopped (or, in burst mode, until nothing is left)."""
        try:
            task = None
            while not self._stopping:
                task = task or self._next_task()
                if task is None:
                    break
                task = self._execute(task)
        except Exception:
            # A bug or a broken database, not a task's failure: stop the worker (exit code 1) so that its
            # supervisor restarts it, rather than serve on with a slot fewer.
            logger.exception("A task slot stopped on an unexpected error; stopping the worker.")
            self._crashed = True
            self.stop()
        finally:
            connections.close_all()  # this thread's own connections
            with self._lock:
                self._active_slots -= 1
            self._waker.wake()

    def _next_task(self):
        """Claim a task, sleeping until woken while there is none; None once stopping (or, in burst mode, when
        there is nothing to claim)."""
        while not self._stopping:
            with self._work:
                wakes = self._wakes
            try:
                task = self._claim()
            except (OperationalError, InterfaceError) as error:
                self._database_unavailable(error)
                task = None
            if task is not None or self.burst:
                return task
            timeout = RECOVERY_INTERVAL if self._waker.listening else self.poll_interval
            with self._work:
                if self._wakes == wakes and not self._stopping:  # nothing happened since the claim found nothing
                    self._idle_slots += 1
                    if self._idle_slots == 1:
                        self._waker.wake()  # so that the main thread listens again
                    self._work.wait(timeout)
                    self._idle_slots -= 1
        return None

    def _claim(self, register=True):
        """One task for this slot, as its ingestor's model, registered as running unless told not to; or None."""
        claimed = Task.objects.db_manager(self.using).claim(
            1, task_ingestors=list(self.ingestors), worker=self.identity, lease=self.lease
        )
        if not claimed:
            return None
        task = claimed[0]
        model = self.ingestors[task.task_ingestor].model
        if model is not None and not isinstance(task, model):
            task = model._base_manager.db_manager(self.using).filter(pk=task.pk).first() or task
        if register:
            self._register(task)
        return task

    def _register(self, task):
        with self._lock:
            self._running[task.pk] = task

    def _execute(self, task):
        """Run the task's ingestor and finish the task; return the next task claimed meanwhile, if any."""
        ingestor = self.ingestors[task.task_ingestor]
        fields = _fields(task)
        logger.info("Task %s started (ingestor %r, attempt %s)", task.pk, ingestor.name, task.attempts, extra=fields)
        started = time.monotonic()
        try:
            with acting_as(getattr(task, "acting_user", None)):
                ingestor.function(task)
        except Exception as error:
            return self._finish(task, fields, started, failure=error)
        except BaseException:
            logger.exception("Task %s interrupted; its lease will expire.", task.pk, extra=fields)
            raise
        return self._finish(task, fields, started)

    def _finish(self, task, fields, started, failure=None):
        """Complete or fail the task (unless its attempt lost the lease) and, unless stopping, claim the next task in
        the same transaction: one commit for both. Log one line; return the next task or None."""
        _forget_broken_connection(self.using)
        duration = time.monotonic() - started
        pk = fields["task_id"]  # the task's own pk is None once completing deleted it
        fields = {**fields, "duration": duration}
        where = f"(ingestor {task.task_ingestor!r}, attempt {task.attempts})"
        next_task = None
        try:
            with transaction.atomic(using=self.using):
                if failure is None:
                    task.complete_processing()
                else:
                    task.fail_processing(error="".join(traceback.format_exception(failure)))
                if not self._stopping:
                    next_task = self._claim(register=False)
        except LeaseLost as lost:
            logger.warning(
                "Task %s finished after %.3f s %s but lost its lease: %s", pk, duration, where, lost, extra=fields
            )
            return None
        except InvalidTransition as refused:
            logger.warning("Task %s finished after %.3f s %s: %s", pk, duration, where, refused, extra=fields)
            return None
        except DatabaseError as error:
            _forget_broken_connection(self.using)
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
            with self._lock:
                self._running.pop(pk, None)
        if next_task is not None:
            self._register(next_task)  # only now: had the transaction rolled back, the claim would have too
        if failure is None:
            logger.info("Task %s completed in %.3f s %s", pk, duration, where, extra=fields)
        else:
            summary = "".join(traceback.format_exception_only(failure)).strip().replace("\n", " ")
            logger.error("Task %s failed in %.3f s %s: %s", pk, duration, where, summary, extra=fields)
        return next_task

    # Signals.

    def _handle_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = {number: signal.signal(number, self._on_signal) for number in (signal.SIGTERM, signal.SIGINT)}
        previous["wakeup_fd"] = signal.set_wakeup_fd(self._waker.write_fd, warn_on_full_buffer=False)
        return previous

    def _restore_signals(self, previous):
        if previous is None:
            return
        signal.set_wakeup_fd(previous.pop("wakeup_fd"))
        for number, handler in previous.items():
            signal.signal(number, handler)

    def _on_signal(self, number, _frame):
        # A signal handler interrupts the main thread anywhere, perhaps holding a lock (ours, or logging's): it only
        # sets flags here (the wake-up fd has already woken the main loop, which announces the stop and wakes the
        # idle slots), or exits at once.
        name = signal.Signals(number).name
        if self._signalled:
            os.write(2, f"{name} again: exiting now; running tasks are left to their leases.\n".encode())
            os._exit(128 + number)
        self._signalled = name
        self._stopping = True

    def _announce_stop(self):
        """After a signal, in the main thread: say what happens now, and wake the idle slots so that they exit."""
        if self._signalled:
            with self._lock:
                running = len(self._running)
            logger.info(
                "%s: claiming no more tasks; waiting up to %s s for %d running (%s again exits at once).",
                self._signalled,
                self.stop_timeout,
                running,
                self._signalled,
            )
        self._wake_slots()


def _fields(task):
    """Structured logging fields of a task, for handlers that keep them (JSON formatters, Sentry)."""
    return {"task_id": task.pk, "ingestor": task.task_ingestor, "attempt": task.attempts}


def _forget_broken_connection(using):
    """After a database error, drop this thread's connection if it is no longer usable (it reconnects on next use)."""
    connection = connections[using]
    if connection.connection is not None and connection.errors_occurred and not connection.in_atomic_block:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()


class _Listener:
    """A dedicated PostgreSQL connection LISTENing on PENDING_CHANNEL (None elsewhere)."""

    def __init__(self, wrapper):
        self._wrapper = wrapper
        self.connection = None

    @classmethod
    def for_database(cls, using):
        wrapper = connections[using]
        return cls(wrapper) if wrapper.vendor == "postgresql" else None

    def fileno(self):
        """The socket to wait on, connecting (and LISTENing) first if needed; None while the server is away."""
        if self.connection is None:
            try:
                self.connection = self._wrapper.get_new_connection(self._wrapper.get_connection_params())
                self.connection.autocommit = True
                self.connection.execute(f"LISTEN {self._wrapper.ops.quote_name(PENDING_CHANNEL)}")
            except Exception as error:
                logger.warning("Cannot LISTEN for new tasks (%s); polling meanwhile.", str(error).strip())
                self.close()
                return None
        return self.connection.pgconn.socket

    def notifications(self):
        """The payloads received (ingestor names); an empty list, and a reconnection later, if the link broke."""
        try:
            self.connection.pgconn.consume_input()
            payloads = []
            while (notify := self.connection.pgconn.notifies()) is not None:
                payloads.append(notify.extra.decode())
            return payloads
        except Exception as error:
            logger.warning("Lost the LISTEN connection (%s); reconnecting.", str(error).strip())
            self.close()
            return []

    def close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


class _Waker:
    """Lets the main loop sleep until there may be work: a notification, a finished task, a signal, or a timeout."""

    def __init__(self, listener):
        self._listener = listener
        self._read_fd, self.write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self.write_fd, False)

    @property
    def listening(self):
        return self._listener is not None and self._listener.connection is not None

    def wake(self):
        with contextlib.suppress(BlockingIOError):  # a full pipe: the main loop is due to wake anyway
            os.write(self.write_fd, b"\0")

    def wait(self, timeout, listen=True):
        """Sleep up to `timeout` seconds; True when there may be new work (a notification, or a LISTEN connection
        just (re)made, which may have missed some). With listen=False, notifications are left unread."""
        fds = [self._read_fd]
        listen_fd = None
        if self._listener is not None and listen:
            was_listening = self.listening
            listen_fd = self._listener.fileno()
            if listen_fd is not None and not was_listening:
                return True
        if listen_fd is not None:
            fds.append(listen_fd)
        ready, _, _ = select.select(fds, [], [], max(timeout, 0))
        if self._read_fd in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._read_fd, 4096):
                    pass
        if listen_fd is not None and listen_fd in ready:
            self._listener.notifications()
            return True
        return False

    def close(self):
        if self._listener is not None:
            self._listener.close()
        os.close(self._read_fd)
        os.close(self.write_fd)
