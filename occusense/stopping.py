"""Stopping on a signal: SIGTERM (systemd, container runtimes) and SIGINT
(Ctrl-C, ``kill -INT``) both stop the sensor as a clean stop does, within a
few seconds whatever is in flight.

Why handlers of our own and not Python's KeyboardInterrupt: Python leaves
SIGINT ignored when the process inherits it ignored (a background job of a
non-interactive shell, some CI runners): such a sensor never stopped on
``kill -INT`` and ran to the end of its video. SIGTERM killed it at once
(exit 143) with the open minute and the report periods lost. A handler only
sets an event (it runs between two bytecodes of the main thread, which may
hold any lock); a thread of its own then asks the target to stop and, if the
stop overruns ``limit_s`` (a container runtime kills after 10 s), says what
the stop was waiting for and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)

STOP_LIMIT_S = 8.0  # a container runtime sends SIGKILL 10 s after SIGTERM
SAME_REQUEST_S = 1.0  # a signal again within this is the same request, not "now!"


class Stoppable(Protocol):
    def stop(self) -> None: ...

    @property
    def stop_phase(self) -> str: ...


class SignalStop:
    """SIGINT and SIGTERM as one clean stop of ``target``.

    Before a target is set (the sensor is still starting, nothing counted
    yet), a signal raises KeyboardInterrupt in the main thread as Python's
    own handler would. A second signal (a second or more after the first:
    GNU ``timeout`` sends its one twice) exits at once.

    Args:
        limit_s: how long a stop may take before the process exits anyway.
    """

    def __init__(self, limit_s: float = STOP_LIMIT_S) -> None:
        self.limit_s = limit_s
        self.target: Stoppable | None = None
        self.signal_name = ""
        self._asked_at = 0.0
        self._asked = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self) -> SignalStop:
        """Handle SIGINT and SIGTERM from now on (call in the main thread)."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)
        self._thread = threading.Thread(target=self._stop_when_asked, name="stopper",
                                        daemon=True)
        self._thread.start()
        return self

    @property
    def requested(self) -> bool:
        return bool(self.signal_name)

    def _handle(self, signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if self.signal_name:
            if time.monotonic() - self._asked_at < SAME_REQUEST_S:
                return  # GNU timeout sends its signal twice (the child, then the group)
            sys.stderr.write(f"{name} again: exiting now\n")
            os._exit(128 + signum)
        self.signal_name, self._asked_at = name, time.monotonic()
        if self.target is None:
            raise KeyboardInterrupt
        self._asked.set()

    def _stop_when_asked(self) -> None:
        self._asked.wait()
        if self._done.is_set():
            return
        target = self.target
        assert target is not None
        log.info("%s: stopping (the frame in hand, then the counts, the open minute and "
                 "queued reports are saved; at most %.0f s)", self.signal_name, self.limit_s)
        target.stop()
        if self._done.wait(self.limit_s):
            return
        log.error("the stop still waits for %s after %.0f s: exiting now (the counts "
                  "are saved)", target.stop_phase or "the frame in hand", self.limit_s)
        logging.shutdown()
        os._exit(1)

    def finished(self) -> None:
        """The stop is done (or the run ended on its own): no forced exit."""
        self._done.set()
        self._asked.set()
