"""A daemon thread that calls a function at a fixed rate until stopped.

Telemetry reads block (NVML calls, HTTP fetches with timeouts), so they run here, never on the
engine's or the UI's event loop. The schedule is fixed-rate on the monotonic clock: a slow call
skips the ticks it overran instead of bunching the next ones together.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Ticker:
    def __init__(
        self,
        name: str,
        interval_s: float,
        tick: Callable[[], None],
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"{name}: interval_s must be > 0, got {interval_s!r}")
        self.name = name
        self.interval_s = interval_s
        self._tick = tick
        self._on_exit = on_exit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the thread to end and wait for the call in progress (bounded by the callee's timeouts).

        `on_exit` runs in the thread itself after its last tick, so a source is closed by the
        thread that used it, never while a call is still in flight.
        """
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._on_exit is not None:
                try:
                    self._on_exit()
                except Exception:
                    log.exception("%s: cleanup failed", self.name)

    def _loop(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # a tick must never end the thread: failure is reported by the callee
                log.exception("%s: tick failed", self.name)
            next_t += self.interval_s
            now = time.monotonic()
            if next_t < now:  # overran: skip the missed ticks
                next_t = now + self.interval_s - ((now - next_t) % self.interval_s)
            self._stop.wait(next_t - now)
