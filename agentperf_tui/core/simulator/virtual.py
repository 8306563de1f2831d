"""The engine model on a virtual clock, driven by simulated agents: no HTTP, no sleeping.

Agents behave like the real load generator: each walks a trajectory turn by turn (send the
turn's prompt, get its exact number of output tokens, wait the tool delay, send the next turn),
starts another trajectory at once when one ends, joins staggered and retires at a turn
boundary. Each replay gets fresh prefix-cache identities (the dynamic prefix), while turn k+1
reuses the blocks of turn k's prompt, as a replay over HTTP does: the reply the server
generated is not what the next prompt carries (that is the recorded reply), so only the
previous prompt is a cache hit.

A token-only tree is one agent, as in the load generator: its sub-agents' requests run in
parallel, scheduled by the tree replay's rules (workload/tree_replay.py), and every prompt's
cache identities come from the tree's block hashes (tree_blocks.py), so what one node shares
with another is a hit here as it is on a server.

Capacity questions (how many agents meet a tier) take seconds of wall time this way.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, overload

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.window import OpenRequest, SentInOrder
from agentperf_tui.core.simulator.block_runs import BlockRuns
from agentperf_tui.core.simulator.engine import Engine, RequestRejected, SimRequest
from agentperf_tui.core.simulator.pool_engine import PoolEngine
from agentperf_tui.core.simulator.profiles import Deployment, load_deployment
from agentperf_tui.core.simulator.shapes import Shape
from agentperf_tui.core.simulator.tokenizer import GEN_PROMPT, count_bytes, render_chat, render_message
from agentperf_tui.core.simulator.tree_blocks import TreeBlocks, tree_blocks
from agentperf_tui.core.workload.trajectory import TextTurn, TokenTurn, Trajectory
from agentperf_tui.core.workload.tree import Node
from agentperf_tui.core.workload.tree_replay import Due, TreeReplay, recorded_tool_delay

__all__ = ["VirtualLoad", "baseline_tool_delay", "check_replayable", "load_deployment"]

ToolDelay = Literal["recorded", "baseline"]

BASELINE_MEDIAN_S = 1.0
BASELINE_SIGMA = 1.0
BASELINE_MIN_S = 0.1
BASELINE_MAX_S = 5.0
_LOG_MEDIAN = math.log(BASELINE_MEDIAN_S)


def baseline_tool_delay(rng: random.Random) -> float:
    """The published AgentPerf baseline delay: 0.1 to 5 s, median about 1 s.

    Drawn log-normal (median 1 s, sigma 1) and clipped to [0.1, 5] s.
    """
    d = math.exp(_LOG_MEDIAN + BASELINE_SIGMA * rng.gauss(0.0, 1.0))
    return BASELINE_MAX_S if d >= BASELINE_MAX_S else BASELINE_MIN_S if d <= BASELINE_MIN_S else d


def check_replayable(trajectories: list[Trajectory]) -> None:
    """Raise ValueError naming the first trajectory the virtual clock cannot replay."""
    for t in trajectories:
        if t.is_tree and t.kind != "tokens":
            raise ValueError(
                f"trajectory {t.id!r}{f' ({t.path})' if t.path else ''} is a text tree: the virtual "
                "clock replays token-only trees (their prompts come from block hashes); replay text "
                "trees against a server (`agentperf-tui run`)"
            )


@dataclass(slots=True, eq=False)
class _TreeRun:
    """One replay of a tree by one agent."""

    blocks: TreeBlocks
    replay: TreeReplay
    offset: int
    """Added to the template's identities: this replay's own cache blocks."""
    sessions: dict[str, int]
    """Node -> its conversation key in the rack-scale engine's cache."""
    open: dict[int, SimRequest] = field(default_factory=dict)
    held: list[Due] = field(default_factory=list)
    """Requests that fell due while the agent was retiring (sent if it stays after all)."""


@dataclass(slots=True, eq=False)
class _Sent:
    """The owner of a tree request in the engine."""

    agent: _Agent
    due: Due


@dataclass(slots=True, eq=False)
class _Agent:
    agent_id: int
    rng: random.Random
    traj_index: int
    replay: int = -1
    turn: int = 0
    t_start: float = 0.0
    prev_prompt_len: int = 0
    prev_hashes: list[int] | BlockRuns = field(default_factory=list)
    """The previous prompt's block identities: a list for the replica engine (its block-level
    cache walks them), runs of identities for the rack-scale engine."""
    text_bytes: int = 0
    retiring: bool = False
    retired: bool = False
    in_flight: SimRequest | None = None
    view: OpenRequest | None = None
    """The request in flight as `open_requests` last described it (None: not described yet)."""
    t_intended: float = 0.0
    pending: int = 0
    """Sequence number of the agent's scheduled send; a stale heap entry carries an older one."""
    tree: _TreeRun | None = None
    """The tree replay in progress (None while the agent walks a linear trajectory)."""

    @property
    def busy(self) -> bool:
        """A request of this agent is in flight."""
        return self.in_flight is not None or (self.tree is not None and bool(self.tree.open))


class VirtualLoad:
    """Closed-loop simulated agents against the engine model, on simulated time.

    `now` starts at 0. `advance(s)` runs s simulated seconds and returns the requests that
    finished in that span; every time in the results is on this clock.
    """

    def __init__(self, deployment: Deployment | Shape, trajectories: list[Trajectory], *, seed: int,
                 tool_delay: ToolDelay = "recorded", join_spread_s: float = 1.0) -> None:
        if not trajectories:
            raise ValueError("VirtualLoad needs at least one trajectory")
        if tool_delay not in ("recorded", "baseline"):
            raise ValueError(f"tool_delay must be 'recorded' or 'baseline', not {tool_delay!r}")
        check_replayable(trajectories)
        self.deployment = deployment
        self.trajectories = trajectories
        self._ids = [t.id for t in trajectories]
        self.seed = seed
        self.tool_delay = tool_delay
        self.join_spread_s = join_spread_s
        self.engine: Engine | PoolEngine = (PoolEngine(deployment, seed=seed) if isinstance(deployment, Shape)
                                            else Engine(deployment, seed=seed))
        self.block = deployment.block_size
        self.now = 0.0
        self._heap: list[tuple[float, int, int, _Agent, Due | None]] = []
        """(time, order, the agent's send number, agent, the tree request due or None)."""
        self._seq = itertools.count()
        self._next_hash = 1
        """Next fresh block identity (identities are never reused)."""
        self._runs = isinstance(self.engine, PoolEngine)
        self._trees: dict[str, TreeBlocks] = {}
        self._sessions = itertools.count(-1, -1)
        """Conversation keys of tree nodes (negative: apart from any block identity)."""
        self._agents: dict[int, _Agent] = {}
        self._retiring = 0
        """Agents in `_agents` that are retiring."""
        self._open: dict[int, _Agent] = {}
        """The linear agents with a request in flight, in the order they sent it."""
        self._moves = 0
        """Times the load has moved on (advanced, or changed its agents): a list of the requests
        in flight read after it moved would be out of date."""
        self._next_id = 0
        self._completed: list[tuple[int, float, float]] = []
        self._results: list[RequestResult] = []
        self._energy_mark = (0.0, 0.0)
        self._last_power = deployment.hardware.idle_w * deployment.gpu_count

    # -- population ------------------------------------------------------------------------

    @property
    def active_agents(self) -> int:
        return len(self._agents) - self._retiring

    @property
    def leaving_agents(self) -> int:
        """Retiring agents whose last requests are still in flight (an idle one leaves at once)."""
        return self._retiring

    def set_concurrency(self, n: int) -> None:
        """Grow to n agents (new ones join spread over `join_spread_s`) or shrink to n (the
        newest agents retire at their next turn boundary: now if they are between turns,
        after their reply if a request is in flight)."""
        if n < 0:
            raise ValueError("concurrency cannot be negative")
        self._moves += 1
        active = sorted((a for a in self._agents.values() if not a.retiring), key=lambda a: a.agent_id)
        if n < len(active):
            for a in active[n:]:
                a.retiring = True
                self._retiring += 1
                if not a.busy:
                    self._retire(a)
            return
        want = n - len(active)
        # agents already on their way out are kept instead of starting new ones
        for a in sorted((a for a in self._agents.values() if a.retiring), key=lambda a: -a.agent_id):
            if want == 0:
                break
            a.retiring = False
            self._retiring -= 1
            want -= 1
            if a.tree is not None:
                held, a.tree.held = a.tree.held, []
                for due in held:
                    self._push(a, Due(due.node, due.turn, max(due.at, self.now)))
        for k in range(want):
            aid = self._next_id
            self._next_id += 1
            rng = random.Random(f"{self.seed}:{aid}")
            a = _Agent(agent_id=aid, rng=rng, traj_index=rng.randrange(len(self.trajectories)) - 1)
            self._agents[aid] = a
            offset = self.join_spread_s * k / max(1, want)
            self._start_trajectory(a, self.now + offset)

    def _retire(self, a: _Agent) -> None:
        """a (retiring, nothing in flight) leaves."""
        a.retired = True
        a.pending += 1
        if self._agents.pop(a.agent_id, None) is not None:
            self._retiring -= 1

    # -- agent behaviour -------------------------------------------------------------------

    def _start_trajectory(self, a: _Agent, t: float) -> None:
        a.traj_index = (a.traj_index + 1) % len(self.trajectories)
        a.replay += 1
        a.turn = 0
        a.t_start = t
        traj = self.trajectories[a.traj_index]
        if traj.is_tree:
            self._start_tree(a, traj, t)
            return
        a.tree = None
        a.prev_prompt_len = 0
        a.prev_hashes = BlockRuns() if self._runs else []
        a.text_bytes = 0
        self._schedule(a, t)

    def _schedule(self, a: _Agent, t: float) -> None:
        a.pending += 1
        a.t_intended = t
        heapq.heappush(self._heap, (t, next(self._seq), a.pending, a, None))

    # -- trees -----------------------------------------------------------------------------

    def _tree_delay(self, a: _Agent) -> Callable[[Node, int], float]:
        if self.tool_delay == "recorded":
            return recorded_tool_delay
        return lambda node, k: baseline_tool_delay(a.rng)

    def _start_tree(self, a: _Agent, traj: Trajectory, t: float) -> None:
        blocks = self._trees.get(traj.id)
        if blocks is None:
            blocks = self._trees[traj.id] = tree_blocks(traj, self.block)
        replay = TreeReplay(blocks.root, tool_delay=self._tree_delay(a))
        sessions = {node.id: next(self._sessions) for node in blocks.root.walk()} if self._runs else {}
        a.tree = _TreeRun(blocks, replay, self._next_hash, sessions)
        self._next_hash += blocks.span
        for due in replay.start(t):
            self._push(a, due)

    def _push(self, a: _Agent, due: Due) -> None:
        heapq.heappush(self._heap, (due.at, next(self._seq), a.pending, a, due))

    def _send_due(self, a: _Agent, due: Due, t: float) -> None:
        run = a.tree
        assert run is not None
        if a.retiring:
            run.held.append(due)
            return
        rb = run.blocks.requests[(due.node.id, due.turn)]
        off = run.offset
        hashes: list[int] | BlockRuns = rb.blocks.shifted(off) if self._runs else [h + off for h in rb.blocks]
        try:
            req = self.engine.new_request(rb.prompt_tokens, hashes, t, max_tokens=rb.output_tokens,
                                          ignore_eos=True, owner=_Sent(a, due),
                                          session=run.sessions.get(due.node.id))
        except RequestRejected as e:
            self._results.append(RequestResult(
                agent_id=a.agent_id, trajectory_id=run.blocks.trajectory, replay=a.replay,
                turn=due.node.turns[due.turn].i, node=due.node.id, t_intended=due.at, t_sent=t, t_end=t,
                ok=False, error=str(e), http_status=400, prompt_tokens=rb.prompt_tokens,
                requested_output_tokens=rb.output_tokens))
            self._tree_reply(a, due, t)
            return
        run.open[req.rid] = req
        self.engine.submit(req, t)

    def _finish_due(self, r: SimRequest, sent: _Sent) -> None:
        a, due = sent.agent, sent.due
        run = a.tree
        assert run is not None
        del run.open[r.rid]
        turn = due.node.turns[due.turn]
        self._results.append(RequestResult.streamed(
            a.agent_id, run.blocks.trajectory, a.replay, turn.i, due.node.id, due.at, r.t_arrival, r.t_first,
            r.t_last, r.prompt_len, r.cached_tokens, r.out, turn.output_tokens))
        self._tree_reply(a, due, r.t_last)

    def _tree_reply(self, a: _Agent, due: Due, t: float) -> None:
        """A tree request's reply ended at t (or it was refused): schedule what became due, and
        start the next trajectory when the tree has finished, as the load generator does."""
        run = a.tree
        assert run is not None
        for nxt in run.replay.reply_done(due.node.id, due.turn, t):
            if a.retiring:
                run.held.append(nxt)
            else:
                self._push(a, nxt)
        if run.replay.finished:
            end = run.replay.finished_at
            assert end is not None
            self._completed.append((a.agent_id, a.t_start, end))
            a.tree = None
            if a.retiring:
                self._retire(a)
                return
            root = run.blocks.root
            self._start_trajectory(a, end + self._tree_delay(a)(root, len(root.turns) - 1))
        elif a.retiring and not run.open:
            self._retire(a)

    def _prompt_of(self, a: _Agent, traj: Trajectory, turn: TextTurn | TokenTurn) -> tuple[int, int]:
        """(prompt tokens, tokens reusable from the previous prompt)."""
        if isinstance(turn, TokenTurn):
            return turn.prompt_tokens, min(a.prev_prompt_len, turn.cached_prefix_tokens)
        if turn.compacted:
            a.text_bytes = 0
        a.text_bytes += sum(len(render_message(m.model_dump(exclude_none=True))) for m in turn.append)
        tools = turn.tools if turn.tools is not None else traj.header.tools
        tool_bytes = len(render_chat([], tools)) - len(GEN_PROMPT) if tools else 0
        counted = count_bytes(a.text_bytes + tool_bytes + len(GEN_PROMPT))
        prompt = turn.recorded_prompt_tokens or counted
        reuse = 0 if turn.compacted else min(a.prev_prompt_len, prompt)
        return prompt, reuse

    def _send(self, a: _Agent, t: float) -> None:
        traj = self.trajectories[a.traj_index]
        turn = traj.turns[a.turn]
        if isinstance(turn, TokenTurn):
            prompt, cached = turn.new_input_tokens + turn.cached_prefix_tokens, turn.cached_prefix_tokens
            reuse = a.prev_prompt_len if a.prev_prompt_len <= cached else cached
        else:
            prompt, reuse = self._prompt_of(a, traj, turn)
        prev = a.prev_hashes
        keep = min(reuse // self.block, len(prev))
        fresh = max(0, prompt // self.block - keep)
        first = self._next_hash
        self._next_hash = first + fresh
        hashes: list[int] | BlockRuns
        if isinstance(prev, BlockRuns):
            hashes = prev.grown(keep, first, fresh)
        else:
            # the previous turn's request is over (one request in flight per agent), so its
            # list can grow in place when the whole of it is reused
            hashes = prev if keep == len(prev) else prev[:keep]
            hashes.extend(range(first, first + fresh))
        a.prev_hashes = hashes
        a.prev_prompt_len = prompt
        try:
            req = self.engine.new_request(prompt, hashes, t, max_tokens=turn.output_tokens,
                                          ignore_eos=True, owner=a)
        except RequestRejected as e:
            self._results.append(RequestResult(
                agent_id=a.agent_id, trajectory_id=self._ids[a.traj_index], replay=a.replay, turn=turn.i,
                t_intended=a.t_intended, t_sent=t, t_end=t, ok=False, error=str(e), http_status=400,
                prompt_tokens=prompt, requested_output_tokens=turn.output_tokens))
            self._after_turn(a, t)
            return
        a.in_flight = req
        a.view = None
        self._open[a.agent_id] = a
        self.engine.submit(req, t)

    def _after_turn(self, a: _Agent, t: float, traj: Trajectory | None = None) -> None:
        """The reply to the current turn is in at time t: retire, go on, or start over."""
        if traj is None:
            traj = self.trajectories[a.traj_index]
        turn = traj.turns[a.turn]
        if a.in_flight is not None:
            a.in_flight = None
            del self._open[a.agent_id]
        if a.turn + 1 >= len(traj.turns):
            self._completed.append((a.agent_id, a.t_start, t))
            if a.retiring:
                self._retire(a)
                return
            self._start_trajectory(a, t)
            return
        if a.retiring:
            self._retire(a)
            return
        delay = turn.tool_delay_s if self.tool_delay == "recorded" else baseline_tool_delay(a.rng)
        a.turn += 1
        # the next turn is due after the tool delay (as _schedule, inline: this runs every turn)
        t += delay
        a.pending += 1
        a.t_intended = t
        heapq.heappush(self._heap, (t, next(self._seq), a.pending, a, None))

    def _finish(self, r: SimRequest) -> None:
        if isinstance(r.owner, _Sent):
            self._finish_due(r, r.owner)
            return
        a: _Agent = r.owner
        traj = self.trajectories[a.traj_index]
        turn = traj.turns[a.turn]
        self._results.append(RequestResult.streamed(
            a.agent_id, self._ids[a.traj_index], a.replay, turn.i, "root", a.t_intended, r.t_arrival,
            r.t_first, r.t_last, r.prompt_len, r.cached_tokens, r.out, turn.output_tokens))
        self._after_turn(a, r.t_last, traj)

    # -- clock -----------------------------------------------------------------------------

    def advance(self, seconds: float) -> list[RequestResult]:
        """Run simulated time forward; return the requests that finished in that span."""
        if seconds < 0:
            raise ValueError("cannot advance by a negative time")
        until = self.now + seconds
        self._moves += 1
        heap, engine = self._heap, self.engine
        pooled = engine if isinstance(engine, PoolEngine) else None
        next_time = engine.next_time
        send = self._send
        while True:
            te = next_time()
            ta = heap[0][0] if heap else math.inf
            if te > until and ta > until:
                break
            if ta <= te:
                t, _, seq, a, due = heapq.heappop(heap)
                if a.retired or seq != a.pending:
                    continue
                if due is None:
                    send(a, t)
                else:
                    self._send_due(a, due, t)
            elif pooled is not None:
                for r in pooled.run_before(ta, until):
                    self._finish(r)
            else:
                for r in engine.run_until(te):
                    self._finish(r)
        e0, t0 = self._energy_mark
        e1 = engine.energy_j(until)
        self._last_power = (e1 - e0) / (until - t0) if until > t0 else engine.power_w()
        self._energy_mark = (e1, until)
        self.now = until
        out, self._results = self._results, []
        return out

    def open_requests(self) -> Sequence[OpenRequest]:
        """The requests in flight now (retiring agents' included), with their first token if it
        has come: queued for a decode slot or KV room, in a prefill queue, moving to a decode
        instance or decoding. Each carries the key its result will have when it finishes.

        Linear agents' requests come in the order they were sent (`SentInOrder`), each described
        when it is first read and again once its first token has come, so a reader that stops
        early describes only what it read; the list holds until the load moves on. A tree's
        requests (several per agent) are listed from its open requests."""
        if not self._trees:
            return _InFlight(self)
        now = self.now
        out = list(self._in_flight(now))
        for a in self._agents.values():
            if a.tree is None:
                continue
            for treq in a.tree.open.values():
                due = treq.owner.due
                at = treq.t_first if treq.t_first <= now else None
                out.append(OpenRequest(a.agent_id, due.at, at, treq.target, a.tree.blocks.trajectory,
                                       a.replay, due.node.id, due.node.turns[due.turn].i))
        return out

    def _in_flight(self, now: float) -> Iterator[OpenRequest]:
        """The linear agents' requests in flight, in the order they were sent."""
        for a in self._open.values():
            v = a.view
            req = a.in_flight
            assert req is not None
            if v is None or (v.t_first_token is None and req.t_first <= now):
                v = a.view = self._view(a, req, now)
            yield v

    def _view(self, a: _Agent, req: SimRequest, now: float) -> OpenRequest:
        traj = self.trajectories[a.traj_index]
        first = req.t_first if req.t_first <= now else None
        return OpenRequest(a.agent_id, a.t_intended, first, req.target, trajectory_id=traj.id,
                           replay=a.replay, turn=traj.turns[a.turn].i)

    def trajectories_completed(self) -> list[tuple[int, float, float]]:
        """(agent_id, t_start, t_end) of every trajectory finished since the last call."""
        out, self._completed = self._completed, []
        return out

    def power_w(self) -> float:
        """Mean power of all GPUs over the last `advance` span (W)."""
        return self._last_power

    @property
    def energy_j(self) -> float:
        """Energy of all GPUs since the start, up to `now` (J)."""
        return self.engine.energy_j(self.now)


class _InFlight(SentInOrder):
    """A load's linear agents' requests in flight, in the order they were sent, read from the
    load as they are reached (valid until the load moves on)."""

    __slots__ = ("_load", "_moves")

    def __init__(self, load: VirtualLoad) -> None:
        self._load = load
        self._moves = load._moves

    def _live(self) -> VirtualLoad:
        if self._load._moves != self._moves:
            raise RuntimeError("the virtual load has moved on since these requests in flight were listed")
        return self._load

    def __iter__(self) -> Iterator[OpenRequest]:
        load = self._live()
        return load._in_flight(load.now)

    def __len__(self) -> int:
        return len(self._live()._open)

    @overload
    def __getitem__(self, i: int) -> OpenRequest: ...

    @overload
    def __getitem__(self, i: slice) -> list[OpenRequest]: ...

    def __getitem__(self, i: int | slice) -> OpenRequest | list[OpenRequest]:
        return list(self)[i]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]
