"""How an idle worker learns there may be work: a PostgreSQL LISTEN connection and a self-pipe, waited on together."""

import contextlib
import logging
import os
import select
import threading
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__package__)  # one logger for the whole worker

# The channel the trigger of migration 0002 notifies, with the task's ingestor as the payload.
PENDING_CHANNEL = "core_task_pending"


class Listener:
    """A dedicated PostgreSQL connection LISTENing on PENDING_CHANNEL (None elsewhere)."""

    def __init__(self, wrapper: BaseDatabaseWrapper) -> None:
        self._wrapper = wrapper
        self.connection: Any = None  # a psycopg connection while listening

    @classmethod
    def for_database(cls, using: str) -> "Listener | None":
        wrapper = connections[using]
        return cls(wrapper) if wrapper.vendor == "postgresql" else None

    def fileno(self) -> int | None:
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

    def notifications(self) -> list[str]:
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

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


class Waker:
    """Lets the main loop sleep until there may be work: a notification, a finished task, a signal, or a timeout."""

    def __init__(self, listener: Listener | None) -> None:
        self._listener = listener
        self._read_fd, self.write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self.write_fd, False)
        # wake() may come from another thread (Worker.stop()) while close() runs: never write to a closed (and
        # perhaps reused) descriptor.
        self._closing = threading.Lock()
        self._closed = False

    @property
    def listening(self) -> bool:
        return self._listener is not None and self._listener.connection is not None

    def wake(self) -> None:
        with self._closing, contextlib.suppress(BlockingIOError):  # a full pipe: the main loop is due to wake anyway
            if not self._closed:
                os.write(self.write_fd, b"\0")

    def wait(self, timeout: float, listen: bool = True) -> bool:
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
        if listen_fd is not None and listen_fd in ready and self._listener is not None:
            self._listener.notifications()
            return True
        return False

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        with self._closing:
            self._closed = True
            os.close(self._read_fd)
            os.close(self.write_fd)
