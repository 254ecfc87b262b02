"""The task worker behind `python manage.py run_tasks`.

One worker process runs a main loop and `concurrency` slot threads:

- The main loop claims tasks of the ingestors it serves (`Task.objects.claim`, SKIP LOCKED on PostgreSQL) as slots
  free up, renews the leases of the tasks running (every third of the lease), gives back the tasks of dead workers
  (`Task.objects.recover_expired`), and otherwise sleeps until there may be work: a PostgreSQL NOTIFY (a trigger
  sends one whenever a task becomes pending, however it was written), a finished task, a signal, or, without
  LISTEN/NOTIFY, the poll interval.
- Each slot thread runs one task at a time with its own database connection: the ingestor (outside any transaction,
  acting as nobody unless the task names an `acting_user`), then `complete_processing()` or, if it raised,
  `fail_processing()` with the traceback. Both compare the attempt, so a worker whose lease was taken over leaves the
  task to the attempt that holds it.

Threads rather than processes: ingestors mostly wait on the database, files and HTTP, where threads overlap as well
as processes do at a fraction of the memory; scale CPU-bound work with more worker processes (see the README).

Stopping: the first SIGTERM or SIGINT stops claiming and lets running tasks finish for up to `stop_timeout`
seconds (exit 0; 1 if some had to be abandoned to their lease); a second one exits at once (128 + the signal).
"""

import contextlib
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from queue import SimpleQueue

from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections

from .current_user import acting_as
from .exceptions import InvalidTransition, LeaseLost
from .task_model import Task

__all__ = ["PENDING_CHANNEL", "Worker"]

logger = logging.getLogger(__name__)

# The channel the trigger of migration 0002 notifies, with the task's ingestor as the payload.
PENDING_CHANNEL = "core_task_pending"

# How often a worker looks for expired leases, at most (and at least every tenth of its own lease).
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
        self._running = {}  # pk -> task, for the main loop's lease renewals
        self._lock = threading.Lock()
        self._queue = SimpleQueue()
        self._stopping = False
        self._waker = None

    # The main loop.

    def run(self):
        """Serve until stopped, or in burst mode until no task is left to claim; return the exit code."""
        self._waker = _Waker(_Listener.for_database(self.using))
        slots = [
            threading.Thread(target=self._slot, name=f"task-slot-{index}", daemon=True)
            for index in range(self.concurrency)
        ]
        for slot in slots:
            slot.start()
        previous_handlers = self._handle_signals()
        try:
            self._serve()
            return self._drain()
        finally:
            self._restore_signals(previous_handlers)
            if not self.abandoned:
                for _slot in slots:
                    self._queue.put(None)
                for slot in slots:
                    slot.join()
            self._waker.close()

    def stop(self):
        """Stop claiming; running tasks finish (what the first SIGTERM does)."""
        self._stopping = True
        if self._waker is not None:
            self._waker.wake()

    def _serve(self):
        recover_every = min(RECOVERY_INTERVAL, max(self.lease / 10, 0.05))
        renew_every = self.lease / 3
        next_recovery = next_renewal = time.monotonic()
        while not self._stopping:
            try:
                now = time.monotonic()
                if now >= next_recovery:
                    self._recover_expired()
                    next_recovery = now + recover_every
                if now >= next_renewal:
                    self._renew_leases()
                    next_renewal = now + renew_every
                free = self.concurrency - self._running_count()
                claimed = self._claim(free) if free and not self._stopping else []
                for task in claimed:
                    self._dispatch(task)
                if self.burst and not claimed and not self._running_count():
                    if self._recover_expired()[0] == 0:
                        return  # nothing pending, nothing running, nothing given back: done
                    continue
            except (OperationalError, InterfaceError) as error:
                logger.error("Database unavailable (%s); retrying in %s s.", str(error).strip(), self.poll_interval)
                connections[self.using].close()
                self._waker.wait(self.poll_interval)
                continue
            timeout = min(next_recovery, next_renewal) - time.monotonic()
            if not self._waker.listening:
                timeout = min(timeout, self.poll_interval)
            self._waker.wait(timeout)

    def _drain(self):
        """After a stop: let the running tasks finish, renewing their leases, for up to stop_timeout seconds."""
        deadline = time.monotonic() + self.stop_timeout
        next_renewal = time.monotonic() + self.lease / 3
        while self._running_count() and (now := time.monotonic()) < deadline:
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
            return 1
        return 0

    def _claim(self, count):
        return Task.objects.db_manager(self.using).claim(
            count, task_ingestors=list(self.ingestors), worker=self.identity, lease=self.lease
        )

    def _dispatch(self, task):
        """Hand a claimed task to a free slot, as the instance its ingestor expects."""
        ingestor = self.ingestors[task.task_ingestor]
        if ingestor.model is not None and not isinstance(task, ingestor.model):
            task = ingestor.model._base_manager.db_manager(self.using).filter(pk=task.pk).first() or task
        with self._lock:
            self._running[task.pk] = task
        self._queue.put((task, ingestor))

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

    def _running_count(self):
        with self._lock:
            return len(self._running)

    # The slot threads.

    def _slot(self):
        try:
            while (item := self._queue.get()) is not None:
                task, ingestor = item
                pk = task.pk  # completing a task deletes it, which sets task.pk to None
                try:
                    self._execute(task, ingestor)
                finally:
                    with self._lock:
                        self._running.pop(pk, None)
                    self._waker.wake()
        finally:
            connections.close_all()  # this thread's own connections

    def _execute(self, task, ingestor):
        fields = _fields(task)
        logger.info("Task %s started (ingestor %r, attempt %s)", task.pk, ingestor.name, task.attempts, extra=fields)
        started = time.monotonic()
        try:
            with acting_as(getattr(task, "acting_user", None)):
                ingestor.function(task)
        except Exception as error:
            self._finish(task, fields, started, failure=error)
            return
        except BaseException:
            logger.exception("Task %s interrupted; its lease will expire.", task.pk, extra=fields)
            raise
        self._finish(task, fields, started)

    def _finish(self, task, fields, started, failure=None):
        """Complete or fail the task, unless its attempt lost the lease; log one line either way."""
        _forget_broken_connection(self.using)
        duration = time.monotonic() - started
        pk = fields["task_id"]  # the task's own pk is None once completing deleted it
        fields = {**fields, "duration": duration}
        where = f"(ingestor {task.task_ingestor!r}, attempt {task.attempts})"
        try:
            if failure is None:
                task.complete_processing()
            else:
                task.fail_processing(error="".join(traceback.format_exception(failure)))
        except LeaseLost as lost:
            logger.warning(
                "Task %s finished after %.3f s %s but lost its lease: %s", pk, duration, where, lost, extra=fields
            )
            return
        except InvalidTransition as refused:
            logger.warning("Task %s finished after %.3f s %s: %s", pk, duration, where, refused, extra=fields)
            return
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
            return
        if failure is None:
            logger.info("Task %s completed in %.3f s %s", pk, duration, where, extra=fields)
        else:
            summary = "".join(traceback.format_exception_only(failure)).strip().replace("\n", " ")
            logger.error("Task %s failed in %.3f s %s: %s", pk, duration, where, summary, extra=fields)

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
        name = signal.Signals(number).name
        if self._stopping:
            logger.warning("%s again: exiting now; running tasks are left to their leases.", name)
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os._exit(128 + number)
        logger.info(
            "%s: claiming no more tasks; waiting up to %s s for %d running (%s again exits at once).",
            name,
            self.stop_timeout,
            self._running_count(),
            name,
        )
        self.stop()


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

    def wait(self, timeout):
        fds = [self._read_fd]
        listen_fd = self._listener.fileno() if self._listener is not None else None
        if listen_fd is not None:
            fds.append(listen_fd)
        ready, _, _ = select.select(fds, [], [], max(timeout, 0))
        if self._read_fd in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._read_fd, 4096):
                    pass
        if listen_fd is not None and listen_fd in ready:
            self._listener.notifications()

    def close(self):
        if self._listener is not None:
            self._listener.close()
        os.close(self._read_fd)
        os.close(self.write_fd)
