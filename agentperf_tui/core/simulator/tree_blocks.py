"""The prefix-cache block identities of every request of a token-only tree, built once per tree.

A tree replay builds each prompt from block hashes (workload/tree_plan.py: recorded, or implied
by the token counts), and equal hashes give equal text (workload/block_filler.py). A server's
prefix cache works on its own blocks, of `block_size` tokens: its block j of a prompt holds the
prompt's tokens up to (j + 1) x block_size, so it is the same in two prompts exactly when the
plan hashes covering those tokens are the same. This module gives each such block an identity,
the same in every request of the tree that holds the same content there:

- the requests' plan hashes are walked in a trie (one node per distinct prefix of hashes);
- a request shares with the earlier request that reached its deepest known trie node the
  server blocks that node's prefix covers; the rest of its blocks get new identities;
- text past the last hashed block (recordings that hash full blocks only) is new.

Identities are a template, numbered from 0 and held as runs (simulator/block_runs.py): a
replay adds its own offset (`TreeBlocks.span` fresh identities per replay), so nothing is
shared between replays or agents (the dynamic prefix), and everything the hashes share is
shared inside one.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentperf_tui.core.simulator.block_runs import BlockRuns
from agentperf_tui.core.workload.trajectory import Trajectory
from agentperf_tui.core.workload.tree import Node, tree_of
from agentperf_tui.core.workload.tree_plan import plan_tree


@dataclass(frozen=True, slots=True)
class RequestBlocks:
    prompt_tokens: int
    output_tokens: int
    blocks: BlockRuns
    """Template identities of the prompt's full server blocks, in [0, span)."""


@dataclass(frozen=True)
class TreeBlocks:
    trajectory: str
    root: Node
    block_size: int
    """The server's block size, in tokens."""
    span: int
    """Identities the template uses: a replay takes this many fresh ones."""
    requests: dict[tuple[str, int], RequestBlocks]
    """(node id, turn index in the node) -> the request."""


def tree_blocks(traj: Trajectory, block_size: int) -> TreeBlocks:
    """The template of a token-only tree (or any token-only trajectory) for a server whose prefix
    cache uses `block_size`-token blocks. Implied hashes are planned at that block size."""
    if block_size < 1:
        raise ValueError("block_size must be at least 1")
    plan = plan_tree(traj, block_size=block_size)
    size = plan.block_size
    trie: dict[tuple[int, int], int] = {}
    """(trie node, hash) -> trie node; node 0 is the empty prefix."""
    through: dict[int, BlockRuns] = {}
    """Trie node -> the longest chain so far among the requests through it."""
    span = 0
    out: dict[tuple[str, int], RequestBlocks] = {}
    for req in plan:
        full = req.prompt_tokens // block_size
        path: list[int] = []
        known = 0
        """Plan blocks of this prompt an earlier request already reached."""
        cur = 0
        for h in req.block_hashes:
            nxt = trie.get((cur, h))
            if nxt is None:
                nxt = trie[(cur, h)] = len(trie) + 1
            elif known == len(path):
                known += 1
            path.append(nxt)
            cur = nxt
        keep = 0
        base = BlockRuns()
        if known:
            base = through[path[known - 1]]
            # server blocks whose tokens all lie inside the shared plan blocks
            keep = min(full, known * size // block_size, len(base))
        chain = base.grown(keep, span, full - keep)
        span += full - keep
        for node in path:
            seen = through.get(node)
            if seen is None or len(seen) < len(chain):
                through[node] = chain
        out[(req.node, req.turn)] = RequestBlocks(req.prompt_tokens, req.output_tokens, chain)
    return TreeBlocks(traj.id, tree_of(traj), block_size, span, out)
