"""A clean stop on SIGINT/SIGTERM: the first signal asks the training loop to stop after the current
step (it then writes a checkpoint), a second one aborts at once without saving."""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable

__all__ = ["StopSignal"]


class StopSignal:
    """First SIGINT/SIGTERM: ask the loop to stop after the current step. Second: abort now.

    A context manager: the handlers are installed on entry (main thread only; elsewhere signals
    cannot be caught) and the previous ones restored on exit. ``requested`` is the flag the loop
    reads; ``name`` the signal that set it.
    """

    def __init__(self, announce: Callable[[str], None]) -> None:
        self.requested = False
        self.name = ""
        self._announce = announce
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            self.__exit__()
            raise KeyboardInterrupt
        self.requested = True
        self.name = signal.Signals(signum).name
        self._announce(f"{self.name} received: finishing the current step and saving a checkpoint "
                       "(send it again to abort without saving)")

    def __enter__(self) -> "StopSignal":
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.getsignal(s)
                signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old.clear()
