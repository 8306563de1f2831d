"""The agents: N slots in a closed loop, each replaying trajectories (a tree is one agent: its
sub-agents' requests run in parallel inside the slot).

Runs on an event loop and does nothing there but schedule sends and await streams. Every finished
exchange goes, unparsed, onto a thread-safe queue; parsing happens elsewhere.
"""

from __future__ import annotations

import asyncio
import math
import queue
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.engine.conversation import TurnRequest
from agentperf_tui.core.engine.replay_source import ReplaySource, Shapes
from agentperf_tui.core.records import RawExchange
from agentperf_tui.core.workload.filler import Calibration, dynamic_prefix
from agentperf_tui.core.workload.synth import tool_delay_baseline
from agentperf_tui.core.workload.trajectory import ROOT, Trajectory
from agentperf_tui.core.workload.tree_replay import Due, ToolDelayFn, TreeReplay, recorded_tool_delay

BodyFn = Callable[[TurnRequest], bytes]

_DONE = b"data: [DONE]"


def reply_complete(raw: RawExchange) -> bool:
    """The recorded bytes end with the stream's last event (`data: [DONE]`): the reply was over
    even if the task awaiting it had not yet handed it over."""
    return raw.status == 200 and raw.error is None and b"".join(raw.chunks[-2:]).rstrip().endswith(_DONE)


@dataclass(slots=True)
class Exchange:
    """One request, as the fleet hands it over: raw bytes plus where it belongs."""

    raw: RawExchange
    agent_id: int
    trajectory_id: str
    replay: int
    turn: int
    requested_output_tokens: int
    node: str = ROOT
    t_first_output: float | None = None
    """When its first output arrived, once a poll has found it while the request was in flight."""


@dataclass(slots=True)
class TrajectoryDone:
    agent_id: int
    t_start: float
    t_end: float


@dataclass(frozen=True, slots=True)
class AgentCounts:
    agents: int
    """Agent slots (a tree is one agent)."""
    waiting: int
    """Requests sent (or due), no byte of the reply yet."""
    streaming: int
    """Requests whose reply is arriving."""
    in_tool: int
    """Agents with no request in flight (tool call, think time, joining)."""
    leaving: int = 0
    """Retiring agents (counted in `agents`) whose last requests are still in flight."""

    @property
    def in_flight(self) -> int:
        return self.waiting + self.streaming


@dataclass(frozen=True, slots=True)
class Census:
    """The agents at one moment, taken in one pass."""

    counts: AgentCounts
    active: int
    """Agents that have joined and are not retiring."""
    open: list[Exchange]
    """The requests in flight (their chunks grow while they stream)."""


@dataclass(slots=True, eq=False)
class Agent:
    id: int
    rng: np.random.Generator
    """Workload choices (tool delays, filler): reproducible from the run's seed."""
    joined: bool = False
    retiring: bool = False
    open: dict[int, Exchange] = field(default_factory=dict)
    """The requests in flight, recorded as they stream."""
    replays: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    requests: set[asyncio.Task[None]] = field(default_factory=set, repr=False)


class Fleet:
    """Owns the agent slots; `set_target(n)` adds agents (staggered) or retires them at a turn boundary."""

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
        agent_ids: Callable[[int], int] = lambda k: k,
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
        self._agent_id = agent_ids
        """The k-th agent this fleet starts gets this id (workers number theirs apart)."""
        self._agents: dict[int, Agent] = {}
        self._prefix_rng = np.random.default_rng(secrets.randbits(64))
        """Dynamic prefixes: fresh entropy every run, so no cache entry survives from an earlier run
        (one generator for the fleet: an agent needs no stream of its own for them)."""
        self._spawned = 0
        self._target = 0
        self._running = asyncio.Event()
        self._running.set()
        self._shapes = Shapes()
        for traj in trajectories:
            self._shapes.prepare(traj)

    # ---- control (engine loop only) ----
    @property
    def target(self) -> int:
        return self._target

    def set_target(self, n: int, spread_s: float | None = None) -> None:
        """Run n agents: new ones join spread over `spread_s` (default: 0.1 s per agent added, at
        least the fleet's join spread, at most 10 s), retiring ones leave at a turn boundary."""
        n = max(0, n)
        self._target = n
        live = [a for a in self._agents.values() if not a.retiring]
        if n > len(live):
            add = n - len(live)
            now = self._clock()
            spread = spread_s if spread_s is not None else min(10.0, max(self._join_spread, 0.1 * add))
            for k in range(add):
                self._spawn(now + spread * k / add)
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
        stored and counted, never silently dropped. One whose whole reply had arrived is handed
        over as finished: its agent was cancelled between the last byte and the hand-over."""
        # Two turns of the loop first: bytes already in the sockets are read (the first turn polls
        # them, the second runs what they wake) before the requests are cut off.
        for _ in range(2):
            await asyncio.sleep(0)
        agents = list(self._agents.values())
        tasks = [t for a in agents for t in (*a.requests, a.task) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        now = self._clock()
        for a in agents:
            for ex in a.open.values():
                if reply_complete(ex.raw):
                    # every byte of the reply was in: the stream ended as its task was cancelled
                    ex.raw.t_end = ex.raw.times[-1]
                else:
                    ex.raw.t_end = now
                    ex.raw.failure = "open_at_end"
                    ex.raw.error = "still open when the run stopped"
                self._out.put(ex)
            a.open.clear()
        self._agents.clear()

    # ---- observation (any thread; plain reads) ----
    def census(self) -> Census:
        waiting = streaming = idle = leaving = active = 0
        opens: list[Exchange] = []
        agents = list(self._agents.values())
        for a in agents:
            if a.joined and not a.retiring:
                active += 1
            exchanges = list(a.open.values())
            if not exchanges:
                idle += 1
                continue
            if a.retiring:
                leaving += 1
            for ex in exchanges:
                if ex.raw.chunks:
                    streaming += 1
                else:
                    waiting += 1
            opens += exchanges
        return Census(AgentCounts(len(agents), waiting, streaming, idle, leaving), active, opens)

    # ---- agents ----
    def _spawn(self, t_join: float) -> None:
        aid = self._agent_id(self._spawned)
        self._spawned += 1
        agent = Agent(
            id=aid,
            rng=np.random.default_rng([self._seed, aid]),
        )
        self._agents[aid] = agent
        loop = asyncio.get_running_loop()
        agent.task = loop.create_task(self._run_agent(agent, t_join), name=f"agent-{aid}")

    async def _sleep_until(self, t: float) -> None:
        # an event loop's timers may fire a little early (uvloop counts whole milliseconds): a
        # request is never sent before its intended time
        while (d := t - self._clock()) > 0:
            await asyncio.sleep(d)

    def _delay(self, agent: Agent) -> ToolDelayFn:
        if self._tool_delay == "recorded":
            return recorded_tool_delay
        return lambda node, k: tool_delay_baseline(agent.rng)

    async def _run_agent(self, agent: Agent, t_join: float) -> None:
        try:
            await self._sleep_until(t_join)
            agent.joined = True
            t_next = t_join
            delay = self._delay(agent)
            while not agent.retiring:
                # each agent starts at a different trajectory, then walks the set in order
                traj = self._trajs[(agent.id + agent.replays) % len(self._trajs)]
                play = _Replay(self, agent, traj, delay)
                agent.replays += 1
                tree = await play.run(t_next)
                if not tree.finished:
                    break
                self._out.put(TrajectoryDone(agent.id, t_next, self._clock()))
                assert tree.finished_at is not None
                t_next = tree.finished_at + delay(tree.root, len(tree.root.turns) - 1)
                await self._sleep_until(t_next)
        finally:
            self._agents.pop(agent.id, None)

    async def _request(self, play: _Replay, due: Due) -> None:
        agent = play.agent
        t_intended = due.at
        await self._sleep_until(t_intended)
        if not self._running.is_set():
            await self._running.wait()
            t_intended = max(t_intended, self._clock())
        req = play.source.request(due.node, due.turn)
        body = self._body(req)
        raw = RawExchange(t_intended=t_intended)
        ex = Exchange(raw, agent.id, play.traj.id, play.replay, req.turn, req.output_tokens, due.node.id)
        del req
        key = id(raw)
        agent.open[key] = ex
        await self._client.stream(self._path, body, t_intended, self._clock, into=raw)
        del agent.open[key]
        self._out.put(ex)
        end = raw.t_end if math.isfinite(raw.t_end) else self._clock()
        play.schedule(play.tree.reply_done(due.node.id, due.turn, end))


class _Replay:
    """One replay of a trajectory by one agent: every request it holds, several at once in a
    tree. An agent retiring sends nothing new and lets what is in flight end."""

    __slots__ = ("agent", "finished", "fleet", "replay", "source", "traj", "tree")

    def __init__(self, fleet: Fleet, agent: Agent, traj: Trajectory, delay: ToolDelayFn) -> None:
        self.fleet = fleet
        self.agent = agent
        self.traj = traj
        self.replay = agent.replays
        prefix = dynamic_prefix(fleet._prefix_rng)
        seed = int(agent.rng.integers(2**32))
        self.source = ReplaySource(traj, prefix, fleet._cal, seed, fleet._shapes)
        self.tree = TreeReplay(fleet._shapes.tree(traj), think_time=fleet._think, tool_delay=delay)
        self.finished: asyncio.Future[None] | None = None

    async def run(self, t0: float) -> TreeReplay:
        """Play the replay from t0; returns its tree once no request of it is in flight."""
        self.finished = asyncio.get_running_loop().create_future()
        self.schedule(self.tree.start(t0))
        if self.agent.requests:
            await self.finished
        return self.tree

    def schedule(self, dues: list[Due]) -> None:
        agent = self.agent
        if agent.retiring:
            return
        loop = asyncio.get_running_loop()
        for due in dues:
            task = loop.create_task(self.fleet._request(self, due))
            agent.requests.add(task)
            task.add_done_callback(self._request_done)

    def _request_done(self, task: asyncio.Task[None]) -> None:
        requests = self.agent.requests
        requests.discard(task)
        finished = self.finished
        if finished is None or finished.done():
            return
        if not task.cancelled() and (error := task.exception()) is not None:
            finished.set_exception(error)
        elif not requests:
            finished.set_result(None)
