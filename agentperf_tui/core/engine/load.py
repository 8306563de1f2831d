"""Where the agents run, behind one interface: in the engine's own process (`LocalLoad`), in worker
processes on this machine (`ProcessWorkers`), or in Ray actors across machines (`RayWorkers`).

The coordinator (the engine) owns the controller, the statistics, the store and telemetry; a
load runs agents, hands over finished requests (parsed, on the coordinator's clock) and reports
its agents a few times a second. See docs/scale-out.md.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.engine.bodies import Bodies, request_path
from agentperf_tui.core.engine.fleet import AgentCounts, Census, Exchange, Fleet, TrajectoryDone
from agentperf_tui.core.engine.open_requests import OpenBatch, open_batch
from agentperf_tui.core.engine.protocol import WorkerSpec
from agentperf_tui.core.engine.results import to_result
from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.window import OpenRequest

EventFn = Callable[[str, str], None]


@dataclass(slots=True)
class LoadReport:
    results: list[RequestResult] = field(default_factory=list)
    done: list[TrajectoryDone] = field(default_factory=list)
    opens: list[OpenBatch] = field(default_factory=list)
    """The requests in flight (a batch from each worker), taken before the finished ones were
    handed over."""
    counts: AgentCounts = field(default_factory=lambda: AgentCounts(0, 0, 0, 0))
    active: int = 0
    _open_records: list[OpenRequest] | None = None

    def open_requests(self) -> list[OpenRequest]:
        """The requests in flight, one record each (made once, when first asked)."""
        if self._open_records is None:
            self._open_records = [o for batch in self.opens for o in batch.requests()]
        return self._open_records


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """A worker's clock against the coordinator's: coordinator time = worker time + offset."""

    worker: str
    offset_s: float
    uncertainty_s: float
    """Half the shortest round trip the offset was measured over (0 on a shared clock)."""
    shared: bool
    """Same machine, same monotonic clock: the offset is 0 by construction."""


class Load(Protocol):
    """Agents somewhere. `start`, `stop` run on the engine's loop; the rest on the aggregator
    thread."""

    kind: str
    """"local", "process" or "ray"."""
    workers: int

    async def start(self, spec: WorkerSpec) -> None: ...

    def set_target(self, n: int) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def poll(self) -> LoadReport: ...

    async def stop(self) -> None:
        """Stop the agents; the next poll hands over what was still open, as such."""

    def offsets(self) -> list[ClockOffset]: ...

    @property
    def target(self) -> int: ...


def join_spread(add: int, minimum: float = 1.0) -> float:
    """Over how long `add` new agents join: 0.1 s each, at least `minimum`, at most 10 s (so new
    agents do not move in step)."""
    return min(10.0, max(minimum, 0.1 * add))


def fleet_for(
    spec: WorkerSpec,
    client: StreamClient,
    clock: Callable[[], float],
    out: queue.SimpleQueue[Exchange | TrajectoryDone],
) -> Fleet:
    """The fleet that runs a load's share of the agents: worker `spec.index` of `spec.count`
    numbers its agents index, index + count, ... so ids are unique across workers."""
    return Fleet(
        client=client,
        path=request_path(spec.api),
        body=Bodies(spec.api, spec.model, spec.exact, spec.exact_fields),
        trajectories=list(spec.trajectories),
        calibration=spec.calibration,
        clock=clock,
        out=out,
        seed=spec.seed,
        tool_delay=spec.tool_delay,
        think_time=spec.think_time,
        agent_ids=lambda k: spec.index + spec.count * k,
    )


class LocalLoad:
    """The agents on the engine's own event loop (one process: `--workers 1`)."""

    kind = "local"
    workers = 1

    def __init__(self, client: StreamClient, clock: Callable[[], float]) -> None:
        self._client = client
        self._clock = clock
        self._queue: queue.SimpleQueue[Exchange | TrajectoryDone] = queue.SimpleQueue()
        self._handover = Handover(self._queue, clock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fleet: Fleet | None = None
        self._stopped = False

    async def start(self, spec: WorkerSpec) -> None:
        self._loop = asyncio.get_running_loop()
        self._fleet = fleet_for(spec, self._client, self._clock, self._queue)

    def _on_loop(self, fn: Callable[[], None]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn)

    @property
    def target(self) -> int:
        return self._fleet.target if self._fleet is not None else 0

    def set_target(self, n: int) -> None:
        self._on_loop(lambda: self._fleet.set_target(n) if self._fleet else None)

    def pause(self) -> None:
        self._on_loop(lambda: self._fleet.pause() if self._fleet else None)

    def resume(self) -> None:
        self._on_loop(lambda: self._fleet.resume() if self._fleet else None)

    def poll(self) -> LoadReport:
        fleet = self._fleet
        if fleet is None:
            return LoadReport()
        return self._handover.report(fleet.census(), everything=self._stopped)

    async def stop(self) -> None:
        if self._fleet is not None:
            await self._fleet.stop()
        self._stopped = True

    def offsets(self) -> list[ClockOffset]:
        return []


PARSE_BUDGET_S = 0.010
"""CPU a poll spends at most parsing finished requests. A parse holds the interpreter, so the
agents' event loop waits while it runs: replies that end together (agents that joined together
reach the end of a turn together) are parsed over the next polls, handed over until then as still
in flight."""
PARSE_WAIT_S = 2.0
"""A finished request waits at most this long to be parsed: then it is, whatever the budget, so
what waits never grows without bound."""


class Handover:
    """What a load hands over at each poll: what its agents finished (from `out`, parsed off their
    event loop, within PARSE_BUDGET_S) and what they have in flight."""

    def __init__(self, out: queue.SimpleQueue[Exchange | TrajectoryDone], clock: Callable[[], float]) -> None:
        self._queue = out
        self._clock = clock
        self._waiting: deque[tuple[float, Exchange | TrajectoryDone]] = deque()

    def report(self, census: Census, *, everything: bool = False) -> LoadReport:
        """From `census`, taken before: a request that ends after it is either among the finished
        here or in flight in the next report, never missing. `everything`: parse all (the agents
        have stopped)."""
        now = self._clock()
        waiting = self._waiting
        while True:
            try:
                waiting.append((now, self._queue.get_nowait()))
            except queue.Empty:
                break
        report = LoadReport(counts=census.counts, active=census.active)
        start = time.thread_time()
        parsed = False
        while waiting:
            taken, item = waiting[0]
            over = parsed and time.thread_time() - start > PARSE_BUDGET_S
            if over and not everything and now - taken < PARSE_WAIT_S:
                break
            waiting.popleft()
            parsed = True
            if isinstance(item, Exchange):
                report.results.append(to_result(item))
            else:
                report.done.append(item)
        opens = census.open
        unparsed = [item for _, item in waiting if isinstance(item, Exchange)]
        if unparsed:
            seen = {id(ex) for ex in opens}
            opens = opens + [ex for ex in unparsed if id(ex) not in seen]
        report.opens = [open_batch(opens)]
        return report
