"""Trajectory trees on the virtual clock: one agent per tree with its sub-agents' requests in
parallel, the fork/join schedule, the cache hits the block hashes imply (replica and rack-scale
engines), retirement with requests in flight, and every request of a tree accounted for."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.simulator.recipes import load_recipe
from agentperf_tui.core.simulator.shapes import Shape, candidate_shapes
from agentperf_tui.core.simulator.virtual import VirtualLoad, load_deployment
from agentperf_tui.core.workload.importers.weka import import_weka
from agentperf_tui.core.workload.trajectory import Trajectory, TrajectoryHeader, load_set
from agentperf_tui.core.workload.tree_plan import plan_tree
from agentperf_tui.core.workload.tree_stats import tree_stats
from tests.simulator.workloads import text_trajectory, token_trajectory, tree_trajectory

DEP = load_deployment("h200-sxm", "gpt-oss-120b", replicas=None, gpus_per_replica=None)
WEKA = Path(__file__).resolve().parents[1] / "workload" / "data" / "weka"
OFFSET, DELAY = 0.2, 0.1


def _run(
    load: VirtualLoad, n: int, seconds: float, tick: float = 0.05
) -> tuple[list[RequestResult], int, int]:
    """Results, the most requests in flight at a tick, and the most agents at a tick."""
    load.set_concurrency(n)
    out: list[RequestResult] = []
    peak_open = peak_agents = 0
    for _ in range(round(seconds / tick)):
        out += load.advance(tick)
        peak_open = max(peak_open, len(load.open_requests()))
        peak_agents = max(peak_agents, load.active_agents)
    return out, peak_open, peak_agents


def _replays(results: list[RequestResult]) -> dict[tuple[int, int], dict[tuple[str, int], RequestResult]]:
    groups: dict[tuple[int, int], dict[tuple[str, int], RequestResult]] = defaultdict(dict)
    for r in results:
        groups[(r.agent_id, r.replay)][(r.node, r.turn)] = r
    return groups


def test_a_tree_replays_its_forks_and_joins_as_one_agent() -> None:
    traj = tree_trajectory("tree", offset=OFFSET, delay=DELAY)
    per_tree = sum(1 for _ in plan_tree(traj))
    load = VirtualLoad(DEP, [traj], seed=1)
    results, peak_open, peak_agents = _run(load, 2, 12.0)
    assert all(r.ok for r in results)
    assert peak_agents == 2 and peak_open > 2, "sub-agents' requests run beside the main agent's"
    done = load.trajectories_completed()
    replays = _replays(results)
    finished = [key for key, reqs in replays.items() if len(reqs) == per_tree]
    assert len(done) >= 4 and len(finished) >= len(done)
    for key in finished:
        at = replays[key]
        fork_end = at[("root", 0)].t_end
        for name in ("explore", "tests"):
            assert at[(name, 0)].t_intended == pytest.approx(fork_end + OFFSET)
        joined = max(at[(name, 1)].t_end for name in ("explore", "tests"))
        assert at[("root", 1)].t_intended == pytest.approx(joined + DELAY)
        # the detached helper starts when the reply that spawned it ends, and nothing waits for it
        assert at[("lint", 0)].t_intended == pytest.approx(at[("root", 1)].t_end)
        assert at[("root", 2)].t_intended == pytest.approx(at[("root", 1)].t_end + DELAY)
    # every trajectory counted as done had every request of its tree reported
    for agent, t_start, t_end in done:
        reqs = [r for r in results if r.agent_id == agent and t_start <= r.t_intended <= t_end]
        assert len(reqs) == per_tree


def test_cache_hits_follow_the_implied_block_hashes_on_the_replica_engine() -> None:
    traj = tree_trajectory("tree", context="parent")
    plan = {(p.node, p.turn): p for p in plan_tree(traj, block_size=DEP.block_size)}
    results, _, _ = _run(VirtualLoad(DEP, [traj], seed=2), 1, 6.0)
    assert len(results) >= 2 * len(plan)
    block = DEP.block_size
    for r in results:
        p = plan[(r.node, r.turn)]
        want = min(p.reuse_tokens // block * block, (p.prompt_tokens - 1) // block * block)
        assert r.cached_tokens == want, (r.node, r.turn, r.cached_tokens, p)


def test_recorded_weka_hashes_give_the_perfect_cache_hit_ratio_when_uncontended(tmp_path: Path) -> None:
    import_weka(WEKA, tmp_path / "weka")
    trajs = load_set(tmp_path / "weka", trees=True)
    for traj in trajs:
        results, _, _ = _run(VirtualLoad(DEP, [traj], seed=3), 1, 30.0, tick=0.5)
        stats = tree_stats(traj)
        first = [r for r in results if r.replay == 0]
        assert len(first) == stats.requests
        prompt = sum(r.prompt_tokens or 0 for r in first)
        cached = sum(r.cached_tokens or 0 for r in first)
        assert prompt == stats.prompt_tokens
        assert stats.hit_tokens is not None
        # the perfect cache counts 64-token recorded blocks; the engine stops one token short of
        # a whole prompt, and shares only what was computed when a parallel request started
        assert stats.hit_tokens - 16 * stats.requests <= cached <= stats.hit_tokens, (cached, stats)
        # no cache entry survives from one replay to the next (the dynamic prefix)
        assert all(r.cached_tokens == 0 for r in results if r.node == "root" and r.turn == 0)


def _shape() -> Shape:
    shapes = candidate_shapes(load_recipe("gpt-oss-120b", "h200-sxm"), 8)
    return min(shapes, key=lambda s: (s.decode_gpus, -s.prefill_instances))


def test_the_rack_scale_cache_keeps_each_sub_agent_conversation() -> None:
    """Sub-agents that start from the parent's context share its first block: each still finds
    its own previous prompt, and the parent's next turn finds its own."""
    traj = tree_trajectory("tree", context="parent")
    shape = _shape()
    block = shape.block_size
    plan = {(p.node, p.turn): p for p in plan_tree(traj, block_size=block)}
    results, _, _ = _run(VirtualLoad(shape, [traj], seed=4), 1, 6.0)
    assert len(results) >= len(plan)
    for r in results:
        p = plan[(r.node, r.turn)]
        want = min(p.reuse_tokens // block * block, p.prompt_tokens - 1)
        assert r.cached_tokens == want, (r.node, r.turn, r.cached_tokens, p)


def test_linear_conversations_are_unchanged_on_the_rack_scale_engine() -> None:
    """A linear trajectory is cached per conversation as before: each turn reuses the previous
    prompt whole, and nothing is shared between agents."""
    traj = token_trajectory("lin", turns=4, first=3000, new=500, out=20, delay=0.1)
    shape = _shape()
    results, _, _ = _run(VirtualLoad(shape, [traj], seed=5), 3, 5.0)
    prev: dict[tuple[int, int], int] = {}
    for r in sorted(results, key=lambda r: r.t_intended):
        key = (r.agent_id, r.replay)
        assert r.cached_tokens == (prev[key] // shape.block_size * shape.block_size if key in prev else 0)
        prev[key] = r.prompt_tokens or 0


def test_a_retiring_tree_lets_its_requests_end_and_sends_nothing_new() -> None:
    traj = tree_trajectory("tree", offset=0.0, delay=0.05)
    load = VirtualLoad(DEP, [traj], seed=6, join_spread_s=0.0)
    load.set_concurrency(1)
    results: list[RequestResult] = []
    while len(load.open_requests()) < 2:
        results += load.advance(0.005)
    open_now = load.open_requests()
    assert {o.node for o in open_now} == {"explore", "tests"}
    load.set_concurrency(0)
    assert load.active_agents == 0
    t_retire = load.now
    results += load.advance(5.0)
    late = [r for r in results if r.t_intended > t_retire]
    assert not late, "a retiring agent sent a new request"
    reported = {(r.node, r.turn) for r in results}
    assert {(o.node, o.turn) for o in open_now} <= reported, "a request in flight was dropped"
    assert load.open_requests() == []
    # growing again starts a fresh agent with a fresh tree
    load.set_concurrency(1)
    results = load.advance(2.0)
    assert {r.agent_id for r in results} == {1}
    assert results[0].node == "root" and results[0].turn == 0 and results[0].cached_tokens == 0


def test_text_trees_are_refused_with_the_trajectory_named() -> None:
    text = text_trajectory("notes")
    tree = tree_trajectory("t")
    bad = Trajectory(header=TrajectoryHeader(format="agentperf-traj/2", id="text-tree", kind="text"),
                     turns=text.turns, subagents=())
    VirtualLoad(DEP, [bad, tree], seed=0)  # a text trajectory without sub-agents is fine
    text_tree = bad.model_copy(update={"subagents": tree.subagents[:1]})
    with pytest.raises(ValueError, match="text-tree"):
        VirtualLoad(DEP, [text_tree], seed=0)


def test_the_shape_ranking_counts_sub_agent_requests_and_their_overlap() -> None:
    """The steady-state estimate that ranks shapes sees every request of a tree, and an agent
    whose sub-agents run side by side as more than one linear agent's load."""
    from agentperf_tui.core.search.shape_plan import workload_stats

    linear = workload_stats([token_trajectory("lin", turns=4)], "recorded")
    assert linear.parallelism == pytest.approx(1.0)
    tree = tree_trajectory("tree", offset=0.0)
    stats = workload_stats([tree], "recorded")
    prompts = [p.prompt_tokens for p in plan_tree(tree)]
    assert stats.prompt_tokens == pytest.approx(sum(prompts) / len(prompts))
    assert 1.1 < stats.parallelism < 2.0
    # a sub-agent's first prompt starts with its parent's context, already cached
    assert stats.new_tokens < stats.prompt_tokens / 2
