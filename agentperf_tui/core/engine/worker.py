"""A load worker: runs its share of the agents on an event loop of its own and answers the
coordinator's commands (protocol.WorkerCommand), one reply each. The same class runs in a worker
process on the coordinator's machine and inside a Ray actor on another.

The event loop thread does nothing but stream; parsing happens when the coordinator polls, on the
thread that answers commands. A worker owns its process: it tunes the process's cycle collector
for a fleet (`settle_collector`).
"""

from __future__ import annotations

import asyncio
import gc
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.engine.fleet import Exchange, Fleet, TrajectoryDone
from agentperf_tui.core.engine.load import Handover, LoadReport, fleet_for
from agentperf_tui.core.engine.open_requests import OpenBatch
from agentperf_tui.core.engine.protocol import (
    Pause,
    Ping,
    Poll,
    Resume,
    SetShare,
    StartWorker,
    StopWorker,
    WorkerCommand,
    WorkerFailed,
    WorkerReply,
    WorkerReport,
    WorkerSpec,
)
from agentperf_tui.core.event_loop import new_event_loop

STOP_WAIT_S = 30.0
GC_YOUNG = 50_000
"""A worker's process collects young objects every this many allocations (Python's default: 700)."""


def settle_collector() -> None:
    """What a worker's process holds once its fleet is built (the trajectory set, the conversations
    its agents share) lives as long as the process: moved out of the cycle collector's way. Young
    objects are collected every GC_YOUNG allocations instead of 700: agents' requests allocate
    steadily and free most of it, so what survives a collection is long-lived, and full collections
    (every object of every agent, 0.1 to 0.5 s with thousands of agents, the agents' event loop
    held all along) become rare."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


class Worker:
    def __init__(self) -> None:
        self._spec: WorkerSpec | None = None
        self._zero = time.perf_counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: StreamClient | None = None
        self._fleet: Fleet | None = None
        self._queue: queue.SimpleQueue[Exchange | TrajectoryDone] = queue.SimpleQueue()
        self._handover = Handover(self._queue, self.clock)
        self._handlers: dict[type, Callable[[Any], WorkerReply]] = {
            StartWorker: self._start,
            SetShare: self._set_share,
            Pause: lambda _: self._on_loop(lambda f: f.pause()),
            Resume: lambda _: self._on_loop(lambda f: f.resume()),
            Poll: lambda _: self._report(),
            Ping: lambda _: self._report(empty=True),
            StopWorker: self._stop,
        }

    def clock(self) -> float:
        return time.perf_counter() - self._zero

    def handle(self, command: WorkerCommand) -> WorkerReply:
        try:
            return self._handlers[type(command)](command)
        except Exception as e:  # the coordinator hears of it, the worker goes on answering
            return WorkerFailed(f"{type(command).__name__}: {type(e).__name__}: {e}")

    # ---- commands ----
    def _start(self, cmd: StartWorker) -> WorkerReply:
        spec = self._spec = cmd.spec
        if spec.clock_zero is not None:
            self._zero = spec.clock_zero  # one machine, one monotonic clock: the coordinator's zero
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run_loop, args=(spec, ready), daemon=True, name="worker-loop"
        )
        self._thread.start()
        if not ready.wait(30.0):
            return WorkerFailed("the worker's event loop did not start")
        settle_collector()
        return self._report(empty=True)

    def _run_loop(self, spec: WorkerSpec, ready: threading.Event) -> None:
        loop = self._loop = new_event_loop()
        asyncio.set_event_loop(loop)
        self._client = StreamClient(
            spec.base_url,
            api_key=spec.api_key,
            max_connections=spec.max_connections,
            read_timeout=spec.limits.request_s,
            backend=spec.backend,  # type: ignore[arg-type]
            limits=spec.limits,
        )
        self._fleet = fleet_for(spec, self._client, self.clock, self._queue)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _on_loop(self, fn: Callable[[Fleet], None]) -> WorkerReply:
        loop, fleet = self._loop, self._fleet
        if loop is None or fleet is None:
            return WorkerFailed("not started")
        loop.call_soon_threadsafe(fn, fleet)
        return self._report(empty=True)

    def _set_share(self, cmd: SetShare) -> WorkerReply:
        return self._on_loop(lambda f: f.set_target(cmd.n, cmd.spread_s))

    def _report(self, *, empty: bool = False, everything: bool = False) -> WorkerReport:
        fleet = self._fleet
        report = LoadReport()
        if fleet is not None:
            census = fleet.census()
            if empty:
                report.counts, report.active = census.counts, census.active
            else:
                report = self._handover.report(census, everything=everything)
        return WorkerReport(
            clock=self.clock(),
            results=tuple(report.results),
            done=tuple(report.done),
            opens=report.opens[0] if report.opens else OpenBatch.empty(),
            counts=report.counts,
            active=report.active,
        )

    def _stop(self, _: StopWorker) -> WorkerReply:
        loop, fleet, client = self._loop, self._fleet, self._client
        if loop is None or fleet is None or client is None:
            return self._report(empty=True)

        async def stop() -> None:
            await fleet.stop()
            await client.aclose()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(STOP_WAIT_S)
        report = self._report(everything=True)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
        return report
