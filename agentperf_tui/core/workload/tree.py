"""The tree view of a trajectory: nodes (the main agent and its sub-agents), their turns, and the
forks that spawn sub-agents at given turns and join them back.

A replayer walks it like this (see docs/trajectory-format.md, "Replaying a tree"):

    root = tree_of(traj)
    for each node, from its start:                  # root at once, a sub-agent at its offset
        for k, turn in enumerate(node.turns):
            wait for node.joins_before(k)           # every child of those forks has finished
            send turn k, stream the reply
            for fork in node.forks_after(k):        # spawned by this reply
                start each child start_offset_s after the reply ended
            the turn is complete once its reply and node.joins_before(k + 1) are done;
            wait its tool_delay_s from then (and the next turn's think_time_s)
        the node is finished once its last turn is complete (node.joins_before(len(turns)))

A tree replay is finished when every node has finished (detached sub-agents included).
tree_replay.TreeReplay runs these rules for a driver (wall clock or virtual), and
tree_replay.timeline lays a tree out for known request durations (the recorded ones, say).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .trajectory import ROOT, SubagentSpec, TextTurn, TokenTurn, Trajectory

Turn = TextTurn | TokenTurn


@dataclass(frozen=True, eq=False)
class Fork:
    """Sub-agents spawned by one turn's reply, with one join rule."""

    at_turn: int
    joins_before: int | None
    """The parent's turn that waits for all of them (the parent's turn count: its end); None: detached."""
    children: tuple[Node, ...]

    @property
    def detached(self) -> bool:
        return self.joins_before is None


@dataclass(frozen=True, eq=False)
class Node:
    """The main agent or one sub-agent."""

    id: str
    turns: tuple[Turn, ...]
    spec: SubagentSpec | None
    """The node line (None for the main agent)."""
    depth: int
    forks: tuple[Fork, ...] = ()
    _after: dict[int, tuple[Fork, ...]] = field(default_factory=dict, repr=False)
    _before: dict[int, tuple[Fork, ...]] = field(default_factory=dict, repr=False)

    @property
    def is_root(self) -> bool:
        return self.spec is None

    @property
    def start_offset_s(self) -> float:
        return 0.0 if self.spec is None else self.spec.start_offset_s

    def forks_after(self, k: int) -> tuple[Fork, ...]:
        """Forks spawned by the reply to turn k."""
        return self._after.get(k, ())

    def joins_before(self, k: int) -> tuple[Fork, ...]:
        """Forks whose sub-agents must all have finished before turn k is sent (k = len(turns):
        before this node counts as finished)."""
        return self._before.get(k, ())

    @property
    def children(self) -> tuple[Node, ...]:
        return tuple(c for f in self.forks for c in f.children)

    def walk(self) -> Iterator[Node]:
        """This node and all below it, depth first; forks in turn order, their sub-agents in file order."""
        yield self
        for f in self.forks:
            for c in f.children:
                yield from c.walk()


def tree_of(traj: Trajectory) -> Node:
    """The tree of a trajectory (a linear one is a root without forks)."""
    by_parent: dict[str, list[SubagentSpec]] = {}
    turns_of: dict[str, tuple[Turn, ...]] = {ROOT: traj.turns}
    for sub in traj.subagents:
        by_parent.setdefault(sub.spec.parent, []).append(sub.spec)
        turns_of[sub.spec.node] = sub.turns

    def build(node_id: str, spec: SubagentSpec | None, depth: int) -> Node:
        groups: dict[tuple[int, int | None], list[Node]] = {}
        for child in by_parent.get(node_id, ()):
            key = (child.at_turn, child.joins_before)
            groups.setdefault(key, []).append(build(child.node, child, depth + 1))
        forks = tuple(Fork(at, join, tuple(kids)) for (at, join), kids in groups.items())
        forks = tuple(sorted(forks, key=lambda f: f.at_turn))
        after: dict[int, tuple[Fork, ...]] = {}
        before: dict[int, tuple[Fork, ...]] = {}
        for f in forks:
            after[f.at_turn] = (*after.get(f.at_turn, ()), f)
            if f.joins_before is not None:
                before[f.joins_before] = (*before.get(f.joins_before, ()), f)
        return Node(node_id, turns_of[node_id], spec, depth, forks, after, before)

    return build(ROOT, None, 0)
