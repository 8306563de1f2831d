"""The aggregator thread: everything the stream loop must not do.

A few times a second it takes what the agents handed over (parsed off their event loop), appends
it to the metric columns and the run store, ticks the concurrency controller, and publishes one
Snapshot to every observer. Operator commands run here too, so the controller has a single owner.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from agentperf_tui.core.engine.load import LoadReport
from agentperf_tui.core.engine.protocol import Observer
from agentperf_tui.core.metrics.columns import RequestColumns
from agentperf_tui.core.metrics.window import window_stats
from agentperf_tui.core.views import Event, Snapshot

log = logging.getLogger(__name__)


class Aggregator:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        observers: list[Observer],
        window_s: float,
        snapshot_hz: float,
        tick_s: float = 0.25,
    ) -> None:
        self.clock = clock
        self.observers = observers
        self.window_s = window_s
        self.snapshot_period = 1.0 / snapshot_hz
        self.tick_s = tick_s
        self.columns = RequestColumns()
        self.commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_snapshot = -1e9
        self.last_snapshot: Snapshot | None = None
        # hooks filled in by the engine
        self.poll: Callable[[], LoadReport] = LoadReport
        """What the agents handed over since the last tick (parsed, on the run clock)."""
        self.on_report: Callable[[LoadReport], None] = lambda report: None
        self.build_extra: Callable[[], dict[str, Any]] = dict
        self.level_index: Callable[[], int] = lambda: -1
        self.speed_floor: float | None = None
        """The tier's speed floor: the live speed histogram always shows it."""
        self.error: BaseException | None = None

    # ---- thread ----
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="agentperf-aggregator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.drain()  # whatever arrived after the last tick

    def submit(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the aggregator thread at its next tick (operator commands)."""
        self.commands.put(fn)

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                self.step()
                spent = time.perf_counter() - t0
                self._stop.wait(max(0.0, self.tick_s - spent))
        except BaseException as e:  # surfaced by the engine, never silently lost
            self.error = e
            self.event("error", f"aggregator failed: {type(e).__name__}: {e}")

    def step(self) -> None:
        while True:
            try:
                cmd = self.commands.get_nowait()
            except queue.Empty:
                break
            cmd()
        self.drain()
        now = self.clock()
        if now - self._last_snapshot >= self.snapshot_period:
            self._last_snapshot = now
            self.publish(now)

    def drain(self) -> None:
        report = self.poll()
        if report.results:
            self.columns.extend(report.results, level=self.level_index())
        self.on_report(report)

    # ---- events and snapshots ----
    def event(self, kind: str, message: str) -> None:
        ev = Event(t=self.clock(), kind=kind, message=message)
        for o in self.observers:
            try:
                o.on_event(ev)
            except Exception as e:  # an observer must never take the run down
                self._observer_failed(o, ev.t, e)

    def _observer_failed(self, failed: Observer, t: float, error: Exception) -> None:
        """Tell the other observers (and the log) that one of them failed."""
        what = f"observer {type(failed).__name__} failed: {type(error).__name__}: {error}"
        warning = Event(t, "warn", what)
        log.warning(warning.message)
        for o in self.observers:
            if o is not failed:
                with contextlib.suppress(Exception):
                    o.on_event(warning)

    def publish(self, now: float) -> Snapshot:
        stats = window_stats(self.columns, now, self.window_s, speed_floor=self.speed_floor)
        extra = self.build_extra()
        c = self.columns
        snap = Snapshot(
            t=now,
            window_s=self.window_s,
            requests_ok=c.ok,
            requests_failed=c.failed,
            requests_stalled=c.failures["stalled"] + c.failures["timeout"],
            output_tokens=c.output_tokens,
            usage_mismatches=c.usage_mismatches,
            length_mismatches=c.length_mismatches,
            ttft=stats.ttft,
            speed_p25=stats.speed_p25,
            speed_p50=stats.speed_p50,
            speed_hist=stats.speed_hist,
            speed_hist_edges=stats.speed_hist_edges,
            throughput_tok_s=stats.throughput_tok_s,
            client_lag_p99=stats.client_lag_p99,
            client_lag_max=stats.client_lag_max,
            **extra,
        )
        self.last_snapshot = snap
        for o in self.observers:
            try:
                o.on_snapshot(snap)
            except Exception as e:
                self._observer_failed(o, now, e)
        return snap

