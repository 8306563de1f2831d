"""Turn recorded requests, grouped by agent with parent links, into one trajectory tree.

What every tree importer (Weka, Dynamo request traces, Mooncake sessions) shares:
- requests of a node in start order; a sub-agent hangs off the parent turn whose reply came
  before it started (or the one the source names), and joins the first parent turn that started
  after it finished (detached when none did, or when the source says the parent did not wait);
- the start offset of a sub-agent, tool delays and think times are the recorded gaps, measured
  the way the replay schedules (tree.py): a turn is complete when its reply and the sub-agents
  it waits for have finished, and the next turn follows after the gap. A tree laid out with the
  recorded durations (tree.timeline) therefore starts every request when the recording did;
- block hashes fitted to each prompt (floor..ceil of prompt / block size); missing ones are
  filled with hashes used nowhere else, so that content is not shared;
- `cached_prefix_tokens`: the leading blocks a request shares with the previous request of its
  node (for a sub-agent's first request: with the parent's forking request).
Anything that could not be carried over is counted in `notes`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..trajectory import ROOT, Subagent, SubagentSpec, TokenTurn, TrajectoryHeader, block_hash_range

EPS = 1e-6
COMPACTION_SHRINK = 0.10
"""Without block hashes, a prompt smaller than (1 - this) x the previous one is a compaction."""


@dataclass
class RecRequest:
    start: float | None
    """Seconds on the source's clock (any origin), when known."""
    duration: float | None
    prompt_tokens: int
    output_tokens: int
    hashes: list[int] | None = None
    cached_tokens: int | None = None
    """The recording's own count of prompt tokens served from cache (used without hashes)."""
    human_input: bool | None = None
    """True: the gap before it is human think time; False or None: tool time."""
    gap_s: float | None = None
    """The recorded client gap before it, used when start times are missing."""


@dataclass
class RecNode:
    id: str
    parent: str | None
    requests: list[RecRequest]
    at_turn: int | None = None
    """The parent turn that spawned it, when the source says."""
    spawn_t: float | None = None
    detached: bool = False
    label: str | None = None
    source: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuiltTree:
    header: TrajectoryHeader
    turns: list[TokenTurn]
    subagents: list[Subagent]


class Notes(Counter[str]):
    """Counts of things an import could not carry over, by message."""

    def lines(self) -> list[str]:
        return [msg.format(n=n) for msg, n in self.items() if n]


def _end(r: RecRequest) -> float | None:
    return None if r.start is None or r.duration is None else r.start + r.duration


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class TreeBuilder:
    """Builds one trajectory from recorded nodes; `notes` gathers what did not carry over."""

    def __init__(self, notes: Notes, *, block_size: int | None, hash_scope: str = "trajectory") -> None:
        self.notes = notes
        self.block_size = block_size
        self.hash_scope = hash_scope
        self._fresh = 0

    # -- block hashes ------------------------------------------------------------------------

    def _fit_hashes(self, nodes: list[RecNode]) -> None:
        size = self.block_size
        if size is None:
            for n in nodes:
                for r in n.requests:
                    r.hashes = None
            return
        top = max((h for n in nodes for r in n.requests for h in (r.hashes or ())), default=-1)
        self._fresh = top + 1
        for n in nodes:
            for r in n.requests:
                lo, hi = block_hash_range(r.prompt_tokens, size)
                have = list(r.hashes or ())
                if not have:
                    if hi:
                        self.notes["{n} requests had no block hashes: given hashes of their own (no "
                                   "sharing)"] += 1
                    have = self._new(hi)
                elif len(have) > hi:
                    self.notes["{n} requests had more block hashes than their prompt has blocks: the extra "
                               "ones were dropped"] += 1
                    have = have[:hi]
                elif len(have) < lo:
                    self.notes["{n} requests had fewer block hashes than their prompt has full blocks: the "
                               "rest got hashes of their own"] += 1
                    have += self._new(lo - len(have))
                r.hashes = have

    def _new(self, n: int) -> list[int]:
        out = list(range(self._fresh, self._fresh + n))
        self._fresh += n
        return out

    # -- structure ---------------------------------------------------------------------------

    def build(self, traj_id: str, nodes: list[RecNode], *, source: dict[str, Any],
              system_prompt_tokens: int | None = None) -> BuiltTree:
        by_id = {n.id: n for n in nodes}
        roots = [n for n in nodes if n.parent is None]
        if len(roots) != 1:
            raise ValueError(f"trajectory {traj_id!r} needs exactly one root node, has {len(roots)}")
        self._fit_hashes(nodes)
        for n in nodes:
            if all(r.start is not None for r in n.requests):
                n.requests.sort(key=lambda r: r.start or 0.0)
                for a, b in zip(n.requests, n.requests[1:], strict=False):
                    ea = _end(a)
                    if ea is not None and b.start is not None and b.start < ea - EPS:
                        self.notes["{n} requests started before the previous request of the same agent "
                                   "ended: the replay sends them one after the other"] += 1
        children: dict[str, list[RecNode]] = {}
        for n in nodes:
            if n.parent is not None:
                if n.parent not in by_id:
                    raise ValueError(f"node {n.id!r} names an unknown parent {n.parent!r}")
                children.setdefault(n.parent, []).append(n)

        root = roots[0]
        origin = root.requests[0].start
        specs: dict[str, SubagentSpec] = {}
        order: list[RecNode] = []
        finish: dict[str, float | None] = {}
        joins: dict[str, dict[int, list[str]]] = {}

        def place(node: RecNode) -> None:
            """Decide fork turn and join of each child of `node` (recursively, top-down)."""
            order.append(node)
            kids = children.get(node.id, [])
            placed: list[tuple[int, float, RecNode]] = []
            for kid in kids:
                at = self._fork_turn(node, kid)
                if at is None:
                    self.notes["{n} sub-agents started before their parent's first reply ended and were "
                               "dropped (with their own sub-agents)"] += 1
                    continue
                kid.at_turn = at
                placed.append((at, kid.requests[0].start or 0.0, kid))
            placed.sort(key=lambda x: (x[0], x[1]))
            for _, _, kid in placed:
                place(kid)
            for _, _, kid in placed:
                specs[kid.id] = self._spec(node, kid, finish)
                j = specs[kid.id].joins_before
                if j is not None:
                    joins.setdefault(node.id, {}).setdefault(j, []).append(kid.id)
            finish[node.id] = self._finish(node, joins.get(node.id, {}), finish)

        place(root)
        turns_of = {n.id: self._turns(n, joins.get(n.id, {}), finish, by_id) for n in order}
        for n in order:
            spec = specs.get(n.id)
            if spec is not None and spec.context == "none" and self._inherits(n, by_id):
                specs[n.id] = spec.model_copy(update={"context": "parent"})
        subagents = [Subagent(spec=specs[n.id], turns=tuple(turns_of[n.id])) for n in order if n is not root]
        every = [t for ts in turns_of.values() for t in ts]
        header = TrajectoryHeader(
            format="agentperf-traj/2", id=traj_id, kind="tokens",
            source=source | ({"recorded_start_s": origin} if origin is not None else {}),
            required_context_tokens=max(t.prompt_tokens + t.output_tokens for t in every),
            block_size=self.block_size, hash_scope=self.hash_scope,  # type: ignore[arg-type]
            system_prompt_tokens=system_prompt_tokens or None,
        )
        return BuiltTree(header, turns_of[root.id], subagents)

    def _fork_turn(self, parent: RecNode, kid: RecNode) -> int | None:
        if kid.at_turn is not None:
            return kid.at_turn if kid.at_turn < len(parent.requests) else None
        s = kid.spawn_t if kid.spawn_t is not None else kid.requests[0].start
        if s is None:
            return None
        best: int | None = None
        for k, r in enumerate(parent.requests):
            e = _end(r)
            if e is not None and e <= s + EPS:
                best = k
        return best

    def _spec(self, parent: RecNode, kid: RecNode, finish: dict[str, float | None]) -> SubagentSpec:
        at = kid.at_turn
        assert at is not None
        parent_end = _end(parent.requests[at])
        first = kid.requests[0].start
        offset = 0.0
        if parent_end is not None and first is not None:
            offset = first - parent_end
            if offset < -EPS:
                self.notes["{n} sub-agents started before the reply that spawned them ended: they start "
                           "when it ends"] += 1
            offset = max(0.0, offset)
        join: str = "wait"
        join_turn: int | None = None
        done = finish.get(kid.id)
        if kid.detached:
            join = "detach"
        elif done is not None and all(r.start is not None for r in parent.requests):
            later = [k for k, r in enumerate(parent.requests) if k > at and (r.start or 0.0) >= done - EPS]
            if later:
                join_turn = later[0] if later[0] != at + 1 else None
            else:
                join = "detach"
                self.notes["{n} sub-agents were still running when their parent sent its last request: "
                           "replayed detached (the parent does not wait)"] += 1
        elif at + 1 >= len(parent.requests):
            join = "detach"
        return SubagentSpec(node=kid.id, parent=parent.id, at_turn=at, join=join,  # type: ignore[arg-type]
                            join_turn=join_turn, start_offset_s=round(offset, 6), label=kid.label,
                            source=kid.source)

    def _finish(self, node: RecNode, joined: dict[int, list[str]], finish: dict[str, float | None]
                ) -> float | None:
        end = _end(node.requests[-1])
        if end is None:
            return None
        tails = [finish.get(c) for c in joined.get(len(node.requests), [])]
        return max([end, *(t for t in tails if t is not None)])

    def _inherits(self, node: RecNode, by_id: dict[str, RecNode]) -> bool:
        """Whether a sub-agent's first prompt starts with all full blocks of its parent's forking prompt."""
        if self.block_size is None or node.parent is None or node.at_turn is None:
            return False
        parent = by_id[node.parent].requests[node.at_turn]
        full = (parent.hashes or [])[: parent.prompt_tokens // self.block_size]
        mine = node.requests[0].hashes or []
        return bool(full) and mine[: len(full)] == full

    # -- turns -------------------------------------------------------------------------------

    def _turns(self, node: RecNode, joined: dict[int, list[str]], finish: dict[str, float | None],
               by_id: dict[str, RecNode]) -> list[TokenTurn]:
        size = self.block_size
        reqs = node.requests
        prev: RecRequest | None = None
        if node.parent is not None and node.at_turn is not None:
            prev = by_id[node.parent].requests[node.at_turn]
        delays = [0.0] * len(reqs)
        thinks = [0.0] * len(reqs)
        for k in range(len(reqs) - 1):
            gap = self._gap(reqs[k], reqs[k + 1], [finish.get(c) for c in joined.get(k + 1, [])])
            if reqs[k + 1].human_input:
                thinks[k + 1] = gap
            else:
                delays[k] = gap
        out: list[TokenTurn] = []
        for k, r in enumerate(reqs):
            p = r.prompt_tokens
            cached = 0
            compacted = False
            if prev is not None:
                if size is not None and r.hashes is not None and prev.hashes is not None:
                    cached = min(_common(prev.hashes, r.hashes) * size, p, prev.prompt_tokens)
                elif r.cached_tokens is not None:
                    cached = min(r.cached_tokens, p)
                elif k:
                    cached = min(prev.prompt_tokens, p)
                if k and size is None and p < (1 - COMPACTION_SHRINK) * prev.prompt_tokens:
                    compacted, cached = True, 0
            out_tokens = r.output_tokens
            if out_tokens < 1:
                self.notes["{n} requests recorded 0 output tokens: replayed with 1"] += 1
                out_tokens = 1
            out.append(TokenTurn(
                i=k, new_input_tokens=p - cached, cached_prefix_tokens=cached, output_tokens=out_tokens,
                tool_delay_s=round(delays[k], 6), think_time_s=round(thinks[k], 6), compacted=compacted,
                block_hashes=tuple(r.hashes) if size is not None and r.hashes is not None else None,
                recorded_duration_s=None if r.duration is None else round(r.duration, 6),
            ))
            prev = r
        return out

    def _gap(self, a: RecRequest, b: RecRequest, waited: list[float | None]) -> float:
        end = _end(a)
        if end is None or b.start is None:
            return max(0.0, b.gap_s or 0.0)
        complete = max([end, *(w for w in waited if w is not None)])
        return max(0.0, b.start - complete)


def unique_id(wanted: str, taken: set[str]) -> str:
    """A node id not yet used (and never the main agent's)."""
    base = wanted or "agent"
    name, k = base, 1
    while name in taken or name == ROOT:
        k += 1
        name = f"{base}~{k}"
    taken.add(name)
    return name
