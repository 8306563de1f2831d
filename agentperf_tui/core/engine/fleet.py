"""The agents: N asyncio tasks in a closed loop, each walking trajectories turn by turn.

Runs on the engine's event loop and does nothing there but schedule sends and await streams.
Every finished exchange goes, unparsed, onto a thread-safe queue for the aggregator.
"""

from __future__ import annotations

import asyncio
import enum
import math
import queue
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.engine.conversation import TurnRequest, replay_turns
from agentperf_tui.core.records import OPEN_AT_END_ERROR, RawExchange
from agentperf_tui.core.workload.filler import Calibration, dynamic_prefix
from agentperf_tui.core.workload.synth import tool_delay_baseline
from agentperf_tui.core.workload.trajectory import Trajectory

BodyFn = Callable[[TurnRequest], bytes]


class AgentState(enum.IntEnum):
    JOINING = 0
    WAITING = 1
    """Request sent (or due), no first token yet."""
    STREAMING = 2
    IN_TOOL = 3
    """Between turns: the tool-call delay (or human think time)."""


@dataclass(slots=True)
class Exchange:
    """One finished request, as the fleet hands it over: raw bytes plus where it belongs."""

    raw: RawExchange
    agent_id: int
    trajectory_id: str
    replay: int
    turn: int
    requested_output_tokens: int


@dataclass(slots=True)
class TrajectoryDone:
    agent_id: int
    t_start: float
    t_end: float


@dataclass(slots=True)
class Agent:
    id: int
    rng: np.random.Generator
    """Workload choices (tool delays, filler): reproducible from the run's seed."""
    prefix_rng: np.random.Generator
    """Dynamic prefixes: fresh entropy every run, so no cache entry survives from an earlier run."""
    state: AgentState = AgentState.JOINING
    retiring: bool = False
    raw: RawExchange | None = None
    """The request in flight, recorded as it streams."""
    open: Exchange | None = None
    """That request with where it belongs, until it is handed over."""
    replays: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Fleet:
    """Owns the agent tasks; `set_target(n)` adds agents (staggered) or retires them at a turn boundary."""

    def __init__(
        self,
        *,
        client: StreamClient,
        path: str,
        body: BodyFn,
        trajectories: list[Trajectory],
        calibration: Calibration | None,
        clock: Callable[[], float],
        out: queue.SimpleQueue[Exchange | TrajectoryDone],
        seed: int,
        tool_delay: str = "recorded",
        think_time: bool = False,
        join_spread_s: float = 1.0,
    ) -> None:
        self._client = client
        self._path = path
        self._body = body
        self._trajs = trajectories
        self._cal = calibration
        self._clock = clock
        self._out = out
        self._seed = seed
        self._tool_delay = tool_delay
        self._think = think_time
        self._join_spread = join_spread_s
        self._agents: dict[int, Agent] = {}
        self._run_entropy = secrets.randbits(64)
        self._next_id = 0
        self._target = 0
        self._running = asyncio.Event()
        self._running.set()

    # ---- control (engine loop only) ----
    @property
    def target(self) -> int:
        return self._target

    def set_target(self, n: int) -> None:
        n = max(0, n)
        self._target = n
        live = [a for a in self._agents.values() if not a.retiring]
        if n > len(live):
            add = n - len(live)
            now = self._clock()
            # spread joins (0.1 s per agent, up to 10 s) so new agents do not move in step
            spread = min(10.0, max(self._join_spread, 0.1 * add))
            for k in range(add):
                delay = spread * k / add
                self._spawn(now + delay)
        elif n < len(live):
            for a in sorted(live, key=lambda a: a.id, reverse=True)[: len(live) - n]:
                a.retiring = True

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    async def stop(self) -> None:
        """Stop every agent. A request still open is handed over as such ("open_at_end"): it is
        stored and counted, never silently dropped."""
        agents = list(self._agents.values())
        tasks = [a.task for a in agents if a.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        now = self._clock()
        for a in agents:
            ex = a.open
            if ex is not None:
                a.open = None
                ex.raw.t_end = now
                ex.raw.failure = "open_at_end"
                ex.raw.error = OPEN_AT_END_ERROR
                self._out.put(ex)
        self._agents.clear()

    def open_requests(self) -> list[Exchange]:
        """The requests in flight now (any thread: their chunks grow while they stream)."""
        return [ex for a in list(self._agents.values()) if (ex := a.open) is not None]

    # ---- observation (any thread; plain reads of small ints) ----
    def counts(self) -> tuple[int, int, int, int]:
        """(agents, waiting for first token, streaming, in tool call)."""
        waiting = streaming = tool = 0
        agents = list(self._agents.values())
        for a in agents:
            st = a.state
            if st == AgentState.WAITING:
                raw = a.raw
                if raw is not None and raw.chunks:
                    streaming += 1
                else:
                    waiting += 1
            elif st == AgentState.IN_TOOL:
                tool += 1
        return len(agents), waiting, streaming, tool

    def active(self) -> int:
        """Agents that have joined and are not retiring."""
        return sum(1 for a in list(self._agents.values()) if not a.retiring and a.state != AgentState.JOINING)

    # ---- agents ----
    def _spawn(self, t_join: float) -> None:
        aid = self._next_id
        self._next_id += 1
        agent = Agent(
            id=aid,
            rng=np.random.default_rng([self._seed, aid]),
            prefix_rng=np.random.default_rng([self._run_entropy, aid]),
        )
        self._agents[aid] = agent
        agent.task = asyncio.get_running_loop().create_task(
            self._run_agent(agent, t_join), name=f"agent-{aid}"
        )

    async def _sleep_until(self, t: float) -> None:
        d = t - self._clock()
        if d > 0:
            await asyncio.sleep(d)

    async def _run_agent(self, agent: Agent, t_join: float) -> None:
        try:
            await self._sleep_until(t_join)
            t_next = t_join
            first = True
            while not agent.retiring:
                # each agent starts at a different trajectory, then walks the set in order
                traj = self._trajs[(agent.id + agent.replays) % len(self._trajs)]
                replay = agent.replays
                agent.replays += 1
                prefix = dynamic_prefix(agent.prefix_rng)
                t_start = math.nan
                completed = True
                for req in replay_turns(traj, prefix, self._cal, seed=int(agent.rng.integers(2**32))):
                    if self._think and req.think_time_s > 0 and not first:
                        t_next += req.think_time_s
                    if not self._running.is_set():
                        agent.state = AgentState.IN_TOOL
                        await self._running.wait()
                        t_next = max(t_next, self._clock())
                    await self._sleep_until(t_next)
                    agent.state = AgentState.WAITING
                    if t_start != t_start:  # nan: first request of this replay
                        t_start = t_next
                    body = self._body(req)
                    raw = agent.raw = RawExchange(t_intended=t_next)
                    exchange = Exchange(raw, agent.id, traj.id, replay, req.turn, req.output_tokens)
                    agent.open = exchange
                    await self._client.stream(self._path, body, t_next, self._clock, into=raw)
                    agent.raw = agent.open = None
                    first = False
                    self._out.put(exchange)
                    agent.state = AgentState.IN_TOOL
                    delay = (
                        req.tool_delay_s if self._tool_delay == "recorded" else tool_delay_baseline(agent.rng)
                    )
                    end = raw.t_end if raw.t_end == raw.t_end else self._clock()
                    t_next = end + delay
                    if agent.retiring:
                        completed = False
                        break
                if completed:
                    self._out.put(TrajectoryDone(agent.id, t_start, self._clock()))
                    await self._sleep_until(t_next)
        except asyncio.CancelledError:
            raise
        finally:
            self._agents.pop(agent.id, None)
