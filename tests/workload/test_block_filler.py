"""Filler text from block hashes: same hash, same text; token counts calibrated; the server's prefix
cache sees the sharing the hashes imply inside one tree replay, and nothing across replays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentperf_tui.core.simulator.tokenizer import block_hashes, render_chat
from agentperf_tui.core.workload.block_filler import block_messages, block_prompt_text, block_words
from agentperf_tui.core.workload.filler import Calibration, dynamic_prefix
from agentperf_tui.core.workload.trajectory import Trajectory, load_trajectory
from agentperf_tui.core.workload.tree import tree_of
from agentperf_tui.core.workload.tree_plan import plan_tree
from agentperf_tui.core.workload.tree_replay import timeline
from agentperf_tui.core.workload.tree_stats import tree_stats

from .test_filler_calibration import COUNTERS, Counter, _calibrate

CAL = Calibration(tokens_per_word=1.3, per_message_overhead=4.0, base_overhead=3.0)
DATA = Path(__file__).parent / "data"


def _text(hashes: list[int], tokens: int, **kw: object) -> str:
    args: dict[str, object] = {"block_size": 64, "calibration": CAL} | kw
    return block_prompt_text(hashes, tokens, **args)  # type: ignore[arg-type]


def test_same_hash_same_text_different_hash_different_text() -> None:
    one = block_words("t", 7, 0, 40)
    assert one == block_words("t", 7, 0, 40)
    assert one != block_words("t", 8, 0, 40) and sorted(one) == sorted(block_words("t", 8, 0, 40))
    assert one != block_words("u", 7, 0, 40)  # hashes are scoped by namespace
    assert len(block_words("t", 2**64 - 1, 0, 30)) == 30  # u64 hashes (Dynamo) work
    a = _text([1, 2, 3, 4], 256, prefix="P Q")
    b = _text([1, 2, 5, 6], 256, prefix="P Q")
    shared = _text([1, 2], 128, prefix="P Q")
    assert a.startswith(shared) and b.startswith(shared)
    assert a[len(shared):] != b[len(shared):]  # they part where the hashes part
    assert _text([1, 2, 3, 4], 256, prefix="P Q") == a
    # the words of a prompt do not depend on its hashes, only their order does
    assert sorted(a.split()) == sorted(b.split())


def test_a_partial_last_block_is_the_start_of_the_full_block() -> None:
    short = _text([1, 2, 3], 150)  # block 3 holds 22 of its 64 tokens
    longer = _text([1, 2, 3, 4, 5], 300)
    assert longer.startswith(short)
    # text past the hashed blocks (hashes of full blocks only, as Dynamo records them)
    unhashed = _text([1, 2], 150)
    full = _text([1, 2], 128)
    assert unhashed.startswith(full) and len(unhashed.split()) > len(full.split())


@pytest.mark.parametrize("name", list(COUNTERS))
def test_token_counts_are_calibrated(name: str) -> None:
    counter: Counter = COUNTERS[name]
    cal = _calibrate(counter)
    rng = np.random.default_rng(3)
    worst = 0.0
    for size in (1000, 2500, 9000, 40000):
        for bs in (16, 64, 512):
            for full_only in (False, True):
                n = size // bs if full_only else -(-size // bs)
                hashes = [int(h) for h in rng.integers(0, 2**40, n)]
                msgs = block_messages(hashes, size, block_size=bs, calibration=cal,
                                      prefix=dynamic_prefix(rng))
                worst = max(worst, abs(counter(msgs) - size) / size)
    assert worst < 0.02, f"{name}: worst prompt {worst:.2%} off its target"


def _sim_hits(
    traj: Trajectory, prefix: str, engine_block: int = 16
) -> tuple[dict[tuple[str, int], int], set[int]]:
    """Prefix-cache hits (tokens) the simulator's tokenizer finds, requests in timeline order."""
    plan = plan_tree(traj)
    reqs = {(r.node, r.turn): r for r in plan}
    seen: set[int] = set()
    hits: dict[tuple[str, int], int] = {}
    for tr in timeline(tree_of(traj)):
        r = reqs[(tr.node, tr.turn)]
        msgs = block_messages(r.block_hashes, r.prompt_tokens, block_size=plan.block_size,
                              calibration=CAL_SIM, prefix=prefix, namespace=traj.id)
        hashes = block_hashes(render_chat(msgs), engine_block)
        n = 0
        for h in hashes:
            if h not in seen:
                break
            n += 1
        hits[(tr.node, tr.turn)] = n * engine_block
        seen.update(hashes)
    return hits, seen


CAL_SIM = _calibrate(COUNTERS["simulator-bytes"])


def _implied(traj: Trajectory) -> dict[tuple[str, int], int]:
    plan = plan_tree(traj)
    reqs = {(r.node, r.turn): r for r in plan}
    seen: set[int] = set()
    out: dict[tuple[str, int], int] = {}
    for tr in timeline(tree_of(traj)):
        r = reqs[(tr.node, tr.turn)]
        n = 0
        for h in r.block_hashes:
            if h not in seen:
                break
            n += 1
        out[(tr.node, tr.turn)] = min(r.prompt_tokens, n * plan.block_size)
        seen.update(r.block_hashes)
    return out


@pytest.fixture
def weka_tree(tmp_path: Path) -> Trajectory:
    from agentperf_tui.core.workload.importers.weka import import_weka

    import_weka(DATA / "weka" / "trace_a.json", tmp_path / "w")
    return load_trajectory(tmp_path / "w" / "trace-a.jsonl")


def test_the_simulator_sees_the_implied_prefix_hits(weka_tree: Trajectory) -> None:
    rng = np.random.default_rng(11)
    got, _ = _sim_hits(weka_tree, dynamic_prefix(rng))
    want = _implied(weka_tree)
    assert sum(want.values()) == tree_stats(weka_tree).hit_tokens
    assert sum(v > 0 for v in want.values()) >= 5
    for key, implied in want.items():
        # a server caches whole blocks of its own: it can find up to one of its blocks less, and a
        # block more where the next recorded block starts with the same words (or the tail agrees)
        assert implied - 16 - 1 <= got[key] <= implied + 16 + 1, (key, implied, got[key])


def test_the_dynamic_prefix_isolates_replays_and_keeps_sharing_inside(weka_tree: Trajectory) -> None:
    rng = np.random.default_rng(12)
    one, blocks_one = _sim_hits(weka_tree, dynamic_prefix(rng))
    two, blocks_two = _sim_hits(weka_tree, dynamic_prefix(rng))
    assert not blocks_one & blocks_two  # two replays share no cache block at all
    assert sum(one.values()) > 0 and one == two  # while each finds the same reuse inside itself
    # without a prefix two replays would send the same bytes: the prefix is what isolates them
    _, bare_one = _sim_hits(weka_tree, "")
    _, bare_two = _sim_hits(weka_tree, "")
    assert bare_one == bare_two
