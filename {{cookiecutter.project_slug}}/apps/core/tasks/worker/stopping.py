"""The worker's stop signals: the first SIGTERM or SIGINT asks for a graceful stop, a second one exits at once."""

import os
import signal
import threading
from collections.abc import Callable
from typing import Any


class StopSignals:
    """Handles SIGTERM and SIGINT for as long as the `with` block lasts (in the main thread; elsewhere, nothing).

    A signal handler interrupts the main thread anywhere, perhaps holding a lock (the worker's, or logging's): it
    only records the signal and calls `on_first`, which must only set flags. Writing the signal number to
    `wakeup_fd` has already woken the main loop, which then announces the stop.
    """

    def __init__(self, on_first: Callable[[], None], wakeup_fd: int) -> None:
        self._on_first = on_first
        self._wakeup_fd = wakeup_fd
        self._previous: dict[Any, Any] | None = None
        self.received: str | None = None  # the name of the first stop signal received

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {
                number: signal.signal(number, self._handle) for number in (signal.SIGTERM, signal.SIGINT)
            }
            self._previous_wakeup_fd = signal.set_wakeup_fd(self._wakeup_fd, warn_on_full_buffer=False)
        return self

    def __exit__(self, *exc_info):
        if self._previous is None:
            return
        signal.set_wakeup_fd(self._previous_wakeup_fd)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = None

    def _handle(self, number, _frame):
        name = signal.Signals(number).name
        if self.received:
            os.write(2, f"{name} again: exiting now; running tasks are left to their leases.\n".encode())
            os._exit(128 + number)
        self.received = name
        self._on_first()
