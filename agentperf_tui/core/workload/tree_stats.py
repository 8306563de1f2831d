"""Shape statistics of trajectory trees: fan-out, depth, concurrency inside one tree, the share of
requests and tokens in sub-agents, and the prefix-cache hit ratio the block structure implies.

Every figure is a property of the workload as recorded or generated, not a measurement:
- peak requests in flight inside one tree, "structural": an upper bound from the fork/join
  structure alone (every node that may be active at once has a request in flight);
- the same, "recorded": the most requests that overlapped when the tree is laid out with its
  recorded request durations (tree.timeline); only when every request has one;
- implied hit ratio: the share of prompt tokens a perfect prefix cache (unlimited, no eviction)
  would serve, requests taken in the order of the tree's timeline, counting each request's
  leading blocks already seen in an earlier request of the same tree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .trajectory import TextTurn, TokenTurn, Trajectory
from .tree import Node, tree_of
from .tree_plan import TreePlan, plan_tree
from .tree_replay import TimedRequest, timeline


@dataclass(frozen=True)
class TreeStats:
    trajectory: str
    subagents: int
    fanouts: tuple[int, ...]
    """Sub-agents per fork."""
    depth: int
    """Deepest sub-agent level (0: no sub-agents)."""
    detached: int
    requests: int
    subagent_requests: int
    tokens: int
    """Prompt plus output tokens of every request (text turns: recorded prompt counts where known)."""
    subagent_tokens: int
    peak_structural: int
    peak_recorded: int | None
    prompt_tokens: int
    hit_tokens: int | None
    """Prompt tokens a perfect prefix cache serves within this tree (token-only trajectories)."""
    block_size: int | None
    hashes_recorded: bool


def _prompt(turn: TextTurn | TokenTurn) -> int:
    if isinstance(turn, TokenTurn):
        return turn.prompt_tokens
    return turn.recorded_prompt_tokens or 0


def structural_peak(node: Node) -> int:
    """Most requests one node's subtree can have in flight at once, from its forks and joins."""
    peaks = {id(c): structural_peak(c) for f in node.forks for c in f.children}

    def live(t: int, strict: bool) -> int:
        """Requests of sub-agents alive after reply t (strict: still alive while turn t+1 runs)."""
        total = 0
        for f in node.forks:
            j = f.joins_before
            if f.at_turn <= t and (j is None or j > t + 1 or (not strict and j == t + 1)):
                total += sum(peaks[id(c)] for c in f.children)
        return total

    n = len(node.turns)
    best = 1
    for t in range(n):
        best = max(best, live(t, strict=False))
        if t + 1 < n:
            best = max(best, 1 + live(t, strict=True))
    return best


def _peak_overlap(reqs: Sequence[TimedRequest]) -> int:
    events = sorted([(r.start, 1) for r in reqs] + [(r.end, -1) for r in reqs])
    peak = cur = 0
    for _, d in events:
        cur += d
        peak = max(peak, cur)
    return peak


def _hits(plan: TreePlan, order: Iterable[TimedRequest]) -> int:
    index = {(r.node, r.turn): r for r in plan}
    seen: set[int] = set()
    hit = 0
    for tr in order:
        req = index[(tr.node, tr.turn)]
        n = 0
        for h in req.block_hashes:
            if h not in seen:
                break
            n += 1
        hit += min(req.prompt_tokens, n * plan.block_size)
        seen.update(req.block_hashes)
    return hit


def tree_stats(traj: Trajectory) -> TreeStats:
    root = tree_of(traj)
    nodes = list(root.walk())
    forks = [f for n in nodes for f in n.forks]
    tokens = sub_tokens = requests = sub_requests = prompt = 0
    for n in nodes:
        for t in n.turns:
            size = _prompt(t) + t.output_tokens
            tokens += size
            prompt += _prompt(t)
            requests += 1
            if not n.is_root:
                sub_tokens += size
                sub_requests += 1
    recorded = all(t.recorded_duration_s is not None for n in nodes for t in n.turns)
    order = timeline(root)
    hit: int | None = None
    block: int | None = None
    if traj.kind == "tokens":
        plan = plan_tree(traj)
        hit, block = _hits(plan, order), plan.block_size
    return TreeStats(
        trajectory=traj.id,
        subagents=len(nodes) - 1,
        fanouts=tuple(len(f.children) for f in forks),
        depth=max(n.depth for n in nodes),
        detached=sum(len(f.children) for f in forks if f.detached),
        requests=requests,
        subagent_requests=sub_requests,
        tokens=tokens,
        subagent_tokens=sub_tokens,
        peak_structural=structural_peak(root),
        peak_recorded=_peak_overlap(order) if recorded else None,
        prompt_tokens=prompt,
        hit_tokens=hit,
        block_size=block,
        hashes_recorded=traj.header.block_size is not None,
    )


@dataclass(frozen=True)
class SharedBlocks:
    """Block hashes a set shares across trajectories (hash scope "set" only)."""

    distinct: int
    across: int
    """Distinct hashes that occur in more than one trajectory."""


def shared_across(trajs: Sequence[Trajectory]) -> SharedBlocks | None:
    """How much recorded block content the trajectories of a set share with each other.

    A replay starts every tree with its own dynamic prefix, so this sharing is not reproduced:
    the figure says how much cache reuse the recording had that the replay gives up.
    """
    scoped = [t for t in trajs if t.header.hash_scope == "set" and t.header.block_size is not None]
    if not scoped:
        return None
    owners: Counter[int] = Counter()
    for t in scoped:
        owners.update({h for r in plan_tree(t) for h in r.block_hashes})
    return SharedBlocks(distinct=len(owners), across=sum(1 for c in owners.values() if c > 1))
