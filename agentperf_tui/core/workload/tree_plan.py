"""The requests of a token-only tree, node by node, with each prompt as a list of block hashes.

Recorded block hashes are used as they are. A trajectory without them gets implied ones, built
the way a replay shares content:
- turn 0 of the main agent, and a compacted turn, start a new context (nothing shared);
- a later turn keeps the previous prompt of its node: it shares min(previous prompt, this
  prompt) tokens, in whole blocks, and the rest is new;
- turn 0 of a sub-agent shares its context's prefix: with context "parent" the parent's prompt
  at the forking turn, with "system" the main agent's first `system_prompt_tokens`, with "none"
  nothing.
New content gets hashes never used before in the trajectory, so only what the rules share is
shared. Both the replay's text (block_filler) and the simulator's prefix cache take the hashes
as they are, so they agree on what a server can reuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

from .trajectory import TokenTurn, Trajectory
from .tree import Node, tree_of

IMPLIED_BLOCK_SIZE = 64
"""Block size of implied hashes unless the caller asks for another (the Weka traces use 64)."""


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One request of a tree replay."""

    node: str
    turn: int
    prompt_tokens: int
    output_tokens: int
    block_hashes: tuple[int, ...]
    """The prompt in `block_size`-token blocks (the last may be partial)."""
    reuse_tokens: int
    """Leading tokens shared with an earlier prompt of the same node, or its inherited context."""


@dataclass(frozen=True)
class TreePlan:
    trajectory: str
    block_size: int
    recorded: bool
    """Whether the hashes came from the recording (else they are implied by the token counts)."""
    nodes: dict[str, tuple[PlannedRequest, ...]]

    def requests(self, node: str) -> tuple[PlannedRequest, ...]:
        return self.nodes[node]

    def __iter__(self) -> Iterator[PlannedRequest]:
        for reqs in self.nodes.values():
            yield from reqs


def _shared_blocks(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def plan_tree(traj: Trajectory, *, block_size: int | None = None) -> TreePlan:
    """Every request of a token-only trajectory (tree or linear), with its prompt's block hashes.

    `block_size` applies to implied hashes only; recorded hashes keep the file's `block_size`.
    """
    if traj.kind != "tokens":
        raise ValueError(f"trajectory {traj.id!r} is a text trajectory; block plans are for token-only ones")
    root = tree_of(traj)
    if traj.header.block_size is not None:
        return _recorded(traj, root, traj.header.block_size)
    return _implied(traj, root, block_size or IMPLIED_BLOCK_SIZE)


def _recorded(traj: Trajectory, root: Node, size: int) -> TreePlan:
    nodes: dict[str, tuple[PlannedRequest, ...]] = {}
    first_parent: dict[str, tuple[int, ...]] = {}
    for node in root.walk():
        reqs: list[PlannedRequest] = []
        prev: tuple[int, ...] = first_parent.get(node.id, ())
        prev_tokens = len(prev) * size
        for k, turn in enumerate(node.turns):
            assert isinstance(turn, TokenTurn) and turn.block_hashes is not None
            hashes = turn.block_hashes
            shared = _shared_blocks(prev, hashes)
            reuse = min(shared * size, turn.prompt_tokens, prev_tokens)
            reqs.append(PlannedRequest(node.id, k, turn.prompt_tokens, turn.output_tokens, hashes, reuse))
            prev, prev_tokens = hashes, turn.prompt_tokens
            for f in node.forks_after(k):
                for c in f.children:
                    if c.spec is not None and c.spec.context == "parent":
                        first_parent[c.id] = hashes[: turn.prompt_tokens // size]
        nodes[node.id] = tuple(reqs)
    return TreePlan(traj.id, size, True, nodes)


def _implied(traj: Trajectory, root: Node, size: int) -> TreePlan:
    fresh = count(1)
    nodes: dict[str, tuple[PlannedRequest, ...]] = {}
    system = traj.header.system_prompt_tokens or 0
    inherited: dict[str, tuple[tuple[int, ...], int]] = {}
    """node -> (hashes of its inherited context's full blocks, its tokens)."""
    root_first: tuple[int, ...] = ()

    def blocks(prefix: tuple[int, ...], tokens: int) -> tuple[int, ...]:
        total = -(-tokens // size)
        return prefix + tuple(next(fresh) for _ in range(total - len(prefix)))

    for node in root.walk():
        reqs: list[PlannedRequest] = []
        ctx, ctx_tokens = inherited.get(node.id, ((), 0))
        for k, turn in enumerate(node.turns):
            assert isinstance(turn, TokenTurn)
            p = turn.prompt_tokens
            if (k and turn.compacted) or (not k and node.is_root):
                ctx, ctx_tokens = (), 0
            reuse = min(ctx_tokens, p)
            keep = ctx[: reuse // size]
            hashes = blocks(keep, p)
            reqs.append(PlannedRequest(node.id, k, p, turn.output_tokens, hashes, reuse))
            if node.is_root and k == 0:
                root_first = hashes
            ctx, ctx_tokens = hashes, p
            for f in node.forks_after(k):
                for c in f.children:
                    mode = c.spec.context if c.spec is not None else "none"
                    if mode == "parent":
                        inherited[c.id] = (hashes[: p // size], p)
                    elif mode == "system":
                        n = min(system, len(root_first) * size) // size
                        inherited[c.id] = (root_first[:n], n * size)
        nodes[node.id] = tuple(reqs)
    return TreePlan(traj.id, size, False, nodes)
