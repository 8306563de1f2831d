"""Requests per node with block hashes (recorded or implied), and the tree shape statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from agentperf_tui.core.workload.trajectory import Trajectory, load_trajectory
from agentperf_tui.core.workload.tree import tree_of
from agentperf_tui.core.workload.tree_plan import plan_tree
from agentperf_tui.core.workload.tree_stats import shared_across, structural_peak, tree_stats

V2 = {"format": "agentperf-traj/2", "id": "p", "kind": "tokens"}


def _load(tmp_path: Path, *lines: dict[str, Any], header: dict[str, Any] | None = None) -> Trajectory:
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in (header or V2, *lines)))
    return load_trajectory(path)


def _t(i: int, new: int, cached: int = 0, out: int = 10, **kw: object) -> dict[str, object]:
    return {"i": i, "new_input_tokens": new, "cached_prefix_tokens": cached, "output_tokens": out} | kw


def test_implied_hashes_share_what_a_replay_shares(tmp_path: Path) -> None:
    traj = _load(
        tmp_path,
        _t(0, 1000), _t(1, 290, 1010), _t(2, 500, compacted=True), _t(3, 40, 500),
        {"node": "fork", "at_turn": 1, "context": "parent"}, _t(0, 200, 1300),
        {"node": "sys", "at_turn": 1, "context": "system"}, _t(0, 700),
        {"node": "fresh", "at_turn": 1}, _t(0, 640),
        header=V2 | {"system_prompt_tokens": 300},
    )
    plan = plan_tree(traj, block_size=100)
    assert not plan.recorded and plan.block_size == 100
    r0, r1, r2, r3 = plan.requests("root")
    assert len(r0.block_hashes) == 10 and len(r1.block_hashes) == 13
    # turn 1 keeps the whole previous prompt (1000 tokens = 10 full blocks), the rest is new
    assert r1.block_hashes[:10] == r0.block_hashes and r1.reuse_tokens == 1000
    assert not set(r1.block_hashes[10:]) & set(r0.block_hashes)
    # a compaction shares nothing; the next turn shares the compacted prompt
    assert not set(r2.block_hashes) & set(r1.block_hashes) and r2.reuse_tokens == 0
    assert r3.block_hashes[:5] == r2.block_hashes and r3.reuse_tokens == 500
    (fork,) = plan.requests("fork")
    assert fork.block_hashes[:13] == r1.block_hashes[:13] and fork.reuse_tokens == 1300
    (sys_,) = plan.requests("sys")
    assert sys_.block_hashes[:3] == r0.block_hashes[:3] and sys_.block_hashes[3] not in r0.block_hashes
    (fresh,) = plan.requests("fresh")
    assert fresh.reuse_tokens == 0 and not set(fresh.block_hashes) & {h for r in plan for h in r.block_hashes
                                                                       if r.node != "fresh"}
    # deterministic: a pure function of the trajectory
    assert plan_tree(traj, block_size=100) == plan


def test_recorded_hashes_pass_through(tmp_path: Path) -> None:
    traj = _load(
        tmp_path,
        _t(0, 130, block_hashes=[5, 6, 7], recorded_duration_s=1.0),
        _t(1, 70, 130, block_hashes=[5, 6, 9, 10], recorded_duration_s=1.0),
        {"node": "kid", "at_turn": 0, "context": "parent"}, _t(0, 200, block_hashes=[5, 6, 11, 12],
                                                                recorded_duration_s=0.5),
        header=V2 | {"block_size": 64},
    )
    plan = plan_tree(traj, block_size=16)  # recorded hashes keep the file's block size
    assert plan.recorded and plan.block_size == 64
    assert [r.block_hashes for r in plan.requests("root")] == [(5, 6, 7), (5, 6, 9, 10)]
    assert plan.requests("root")[1].reuse_tokens == 128
    assert plan.requests("kid")[0].reuse_tokens == 128  # the parent's two full blocks
    stats = tree_stats(traj)
    # timeline order: root 0 (miss), kid 0 (hits 5, 6), root 1 (hits 5, 6)
    assert stats.hit_tokens == 128 + 128 and stats.prompt_tokens == 130 + 200 + 200
    assert stats.hashes_recorded and stats.block_size == 64


def test_text_trajectories_have_no_block_plan(tmp_path: Path) -> None:
    traj = _load(tmp_path, {"i": 0, "append": [{"role": "user", "content": "x"}], "output_tokens": 3},
                 header=V2 | {"kind": "text"})
    with pytest.raises(ValueError, match="text trajectory"):
        plan_tree(traj)
    stats = tree_stats(traj)
    assert stats.hit_tokens is None and stats.requests == 1


def test_shape_statistics(tmp_path: Path) -> None:
    d = {"recorded_duration_s": 1.0}
    traj = _load(
        tmp_path,
        _t(0, 100, **d), _t(1, 100, 110, **d), _t(2, 100, 220, **d), _t(3, 100, 330, **d),
        {"node": "a", "at_turn": 0}, _t(0, 50, out=20, recorded_duration_s=3.0),
        {"node": "b", "at_turn": 0}, _t(0, 50, out=20, **d), _t(1, 50, 70, out=20, **d),
        {"node": "b1", "parent": "b", "at_turn": 0}, _t(0, 30, **d),
        {"node": "b2", "parent": "b", "at_turn": 0}, _t(0, 30, **d),
        {"node": "bg", "at_turn": 1, "join": "detach"}, _t(0, 10, recorded_duration_s=10.0),
    )
    s = tree_stats(traj)
    assert s.subagents == 5 and sorted(s.fanouts) == [1, 2, 2] and s.depth == 2 and s.detached == 1
    assert (s.requests, s.subagent_requests) == (10, 6)
    assert s.tokens == (100 + 10) + (210 + 10) + (320 + 10) + (430 + 10) + 70 + 70 + 140 + 40 + 40 + 20
    assert s.subagent_tokens == 70 + 70 + 140 + 40 + 40 + 20
    # after turn 0: a, and b's two children at once; bg runs beside root's later turns
    assert structural_peak(tree_of(traj)) == 3 == s.peak_structural
    assert s.peak_recorded == 3
    linear = tree_stats(_load(tmp_path, _t(0, 100), _t(1, 50, 110)))
    assert (linear.subagents, linear.depth, linear.peak_structural, linear.peak_recorded) == (0, 0, 1, None)


def test_blocks_shared_across_a_set(tmp_path: Path) -> None:
    hdr = V2 | {"block_size": 10, "hash_scope": "set"}
    a = _load(tmp_path, _t(0, 25, block_hashes=[1, 2, 3]), header=hdr | {"id": "a"})
    b = _load(tmp_path, _t(0, 20, block_hashes=[1, 2]), _t(1, 10, 20, block_hashes=[1, 2, 4]),
              header=hdr | {"id": "b"})
    shared = shared_across([a, b])
    assert shared is not None and (shared.distinct, shared.across) == (4, 2)
    assert shared_across([_load(tmp_path, _t(0, 5))]) is None
