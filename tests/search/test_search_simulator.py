"""The search against the simulator's engine model on the virtual clock (no HTTP): the `plan`
command end to end, and accuracy against a brute-force scan of long fixed-N levels."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from agentperf_tui.cli import plan as plan_cli
from agentperf_tui.core.search import order_stats as os_
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.virtual_run import run_search_virtual
from agentperf_tui.core.simulator.profiles import Deployment
from agentperf_tui.core.simulator.virtual import VirtualLoad, load_deployment
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.tiers import SloTier, parse_tier, parse_tiers
from agentperf_tui.core.workload.synth import PRESETS, LogNormal, write_synth_set
from agentperf_tui.core.workload.synth_tree import TreePreset, write_tree_set
from agentperf_tui.core.workload.trajectory import Trajectory, load_set


@pytest.fixture(scope="module")
def quick_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("quick24")
    write_synth_set(d, seed=7, count=24, preset="quick", overwrite=True)
    return d


def run_plan(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    plan_cli.register(sub)
    args = parser.parse_args(["plan", *argv])
    rc = args.func(args)
    out, err = capsys.readouterr()
    return rc, out, err


def test_plan_command_end_to_end(quick_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "plan.json"
    rc, out, err = run_plan(
        ["--hardware", "h200-sxm", "--sim-model", "gpt-oss-120b", "--tier", "gpt-oss-120b@rev1/100-5",
         "--replicas", "1",
         "--trajectories", str(quick_dir), "--seed", "3", "--tick", "2", "--start", "8",
         "--out", str(out_file)],
        capsys,
    )
    assert rc == 0, err
    summary = json.loads(out)
    assert json.loads(out_file.read_text()) == summary
    # the same typed summary every face reads, on the virtual clock and labelled simulated
    assert RunSummary.model_validate(summary).to_json(indent=True) + b"\n" == out.encode()
    assert summary["schema"] == "agentperf-summary/2" and summary["clock"] == "virtual"
    assert summary["simulated"] is True and summary["rigour"] == "fast"
    (result,) = summary["results"]
    assert result["tier_name"] == "gpt-oss-120b@rev1/100-5"
    n = result["n_star"]
    assert n >= 4 and result["first_fail_n"] > n and result["failing_criterion"] == "speed"
    assert summary["gpu_count"] == 1 and result["agents_per_gpu"] == n
    assert result["power_basis"] == "simulated"
    assert result["agents_per_mw"] == pytest.approx(n / (result["power_w"] / 1e6))
    assert 100 < result["power_w"] < 1000  # one GPU under load, GPU power only
    assert summary["levels"][-1]["role"] == "confirm" and summary["levels"][-1]["n"] == n
    assert summary["duration_s"] > 10 * summary["wall_time_s"]
    # the table on stderr: a header, one row per level, the one-line answer
    assert "SIMULATED capacity plan" in err and "P25 tok/s" in err
    assert err.count(" confirm ") == 1 and f"N* = {n} agents" in err
    # no --max: up to twice what the replica's running-sequence slots or KV cache hold
    from agentperf_tui.core.search.shape_plan import default_max_n, workload_stats
    from agentperf_tui.core.simulator.steady import replicas_held

    dep = load_deployment("h200-sxm", "gpt-oss-120b", replicas=1)
    held = replicas_held(dep, workload_stats(load_set(quick_dir), "recorded"), 100)
    top = default_max_n(held, 8)
    assert f"up to N={top:,} (default: 2 x the agents" in err and n < top


@pytest.mark.slow
def test_plan_answers_a_whole_family_on_shared_levels(
    quick_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run_plan(
        ["--hardware", "h200-sxm", "--sim-model", "gpt-oss-120b", "--tier", "gpt-oss-120b@rev1",
         "--replicas", "1", "--trajectories", str(quick_dir), "--seed", "3", "--tick", "2", "--start", "4"],
        capsys,
    )
    assert rc == 0, err
    summary = RunSummary.model_validate(json.loads(out))
    tiers = parse_tiers("gpt-oss-120b@rev1")
    assert [r.tier for r in summary.results] == list(tiers)
    # each tier's N* as a search for that tier alone finds it, on the same virtual clock
    dep = load_deployment("h200-sxm", "gpt-oss-120b")
    trajs = load_set(quick_dir)
    alone = [
        run_search_virtual(SearchPlan(tier=t, gpu_count=1), VirtualLoad(dep, trajs, seed=3), tick_s=2.0)
        for t in tiers
    ]
    for together, single in zip(summary.results, alone, strict=True):
        n, m = together.n_star, single.primary.n_star
        assert n is not None and m is not None and abs(n - m) <= max(1, math.floor(0.05 * m)), (n, m)
    assert summary.results[0].n_star >= 8 and summary.results[0].agents_per_mw is not None  # type: ignore[operator]
    # fewer levels, less virtual time than the four searches
    assert len(summary.levels) < sum(len(r.levels) for r in alone)
    assert summary.duration_s < sum(r.duration_s for r in alone)
    # every level judged against each tier; stderr: the table with per-tier verdicts, a line per tier
    assert all(len(lv.tiers) == 4 for lv in summary.levels)
    assert "4 tiers on shared levels" in err and "100-5:pass" in err
    for t in tiers:
        assert f"\nSIMULATED {t.name}: N*=" in err


@pytest.fixture(scope="module")
def tree_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small trees: `quick` chains, half the main agent's replies forking 2 to 4 sub-agents."""
    d = tmp_path_factory.mktemp("trees")
    quick = PRESETS["quick"]
    preset = TreePreset(name="quick-tree", main=quick, sub=quick, fork_probability=0.5,
                        fanout_weights=(0.0, 1.0, 1.0, 1.0),
                        result_tokens=LogNormal(median=100, sigma=0.5, lo=20, hi=400))
    write_tree_set(d, seed=2, count=8, preset=preset, overwrite=True)
    return d


def test_plan_replays_trees_with_every_sub_agent_request(
    tree_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fixed level on trees: N agents are N trees, and the level's requests are every request
    of the trees (main agents' and sub-agents'), as the virtual load reports them."""
    rc, out, err = run_plan(
        ["--hardware", "h200-sxm", "--sim-model", "gpt-oss-120b", "--tier", "50/5", "--replicas", "1",
         "--trajectories", str(tree_dir), "--fixed", "6", "--tick", "2"],
        capsys,
    )
    assert rc == 0, err
    summary = RunSummary.model_validate(json.loads(out))
    (level,) = summary.levels
    assert level.n == 6 and level.requests > 0
    trajs = load_set(tree_dir, trees=True)
    assert sum(t.is_tree for t in trajs) >= 5
    load = VirtualLoad(load_deployment("h200-sxm", "gpt-oss-120b"), trajs, seed=0)
    load.set_concurrency(6)
    results = load.advance(120.0)
    subs = [r for r in results if r.node != "root"]
    assert len(subs) > 0.3 * len(results)
    assert len({r.agent_id for r in results}) == 6


def test_plan_refuses_a_text_tree_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text_turn = {"i": 0, "append": [{"role": "user", "content": "fix the test"}], "output_tokens": 8}
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [
        {"format": "agentperf-traj/2", "id": "text-tree", "kind": "text", "turns": 1, "subagents": 1},
        text_turn,
        {"node": "helper", "at_turn": 0, "turns": 1},
        text_turn,
    ]) + "\n")
    rc, out, err = run_plan(
        ["--hardware", "h200-sxm", "--sim-model", "gpt-oss-120b", "--tier", "50/5", "--replicas", "1",
         "--trajectories", str(path)],
        capsys,
    )
    assert rc == 2 and out == ""
    assert "text-tree" in err and "token-only trees" in err


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--tier", "fast-please"], "--tier"),
        (["--tier", "gpt-oss-120b@rev1,50/4,50/4"], "listed twice"),
        (["--tier", "50/4", "--trajectories", "/nonexistent/dir"], "/nonexistent/dir"),
        (["--tier", "50/4", "--hardware", "no-such-gpu"], "no-such-gpu"),
        (["--tier", "50/4", "--start", "0"], "start_n"),
    ],
)
def test_plan_command_errors_name_the_culprit(
    argv: list[str], needle: str, quick_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"--hardware": "h200-sxm", "--sim-model": "gpt-oss-120b", "--trajectories": str(quick_dir)}
    for k, v in zip(argv[::2], argv[1::2], strict=True):
        base[k] = v
    rc, out, err = run_plan([x for kv in base.items() for x in kv], capsys)
    assert rc == 2 and out == ""
    assert needle in err and err.startswith("agentperf-tui plan:")


# ---- accuracy against a brute-force scan (slow) --------------------------------------------

def long_level(dep: Deployment, trajs: list[Trajectory], n: int, tier: SloTier, *, window_s: float = 600.0,
               spread_s: float = 60.0, seed: int = 1000) -> bool:
    """One fixed-N level measured directly on the load (no controller): agents join spread over
    `spread_s` (so they are not in lockstep), then every request sent in a long window counts."""
    load = VirtualLoad(dep, trajs, seed=seed, join_spread_s=spread_s)
    load.set_concurrency(n)
    t0 = spread_s + 60.0
    speeds: list[float] = []
    ttfts: list[float] = []
    pending = True
    while pending:
        pending = load.now < t0 + window_s + 120.0
        for r in load.advance(10.0):
            if t0 <= r.t_intended < t0 + window_s:
                speeds.append(r.output_speed)
                ttfts.append(r.ttft)
    p25 = os_.quantile(np.sort(speeds), 0.25)
    p95 = os_.quantile(np.sort(ttfts), 0.95)
    return p25 >= tier.speed_tok_s and p95 <= tier.ttft_s


def brute_force_capacity(dep: Deployment, trajs: list[Trajectory], tier: SloTier, ns: list[int]) -> int:
    verdicts = {n: long_level(dep, trajs, n, tier) for n in ns}
    assert verdicts[ns[0]] and not verdicts[ns[-1]], f"scan range does not bracket the capacity: {verdicts}"
    best = ns[0]
    for n in ns:
        if not verdicts[n]:
            break
        best = n
    return best


CASES = {
    # about a dozen agents on one H200, speed-bound
    "gpt-oss-120b@h200": ("h200-sxm", "gpt-oss-120b", "gpt-oss-120b@rev1/100-5", list(range(9, 17))),
    # about a dozen agents on two H100s (one replica), speed-bound at a custom tier
    "llama-3.3-70b@h100": ("h100-sxm", "llama-3.3-70b", "40/5", list(range(9, 17))),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_fast_search_matches_brute_force_for_ten_seeds(case: str, quick_dir: Path) -> None:
    hardware, model, tier_name, scan = CASES[case]
    dep = load_deployment(hardware, model)
    trajs = load_set(quick_dir)
    tier = parse_tier(tier_name)
    truth = brute_force_capacity(dep, trajs, tier, scan)
    tol = max(1, math.floor(0.05 * truth))
    found = []
    for seed in range(10):
        plan = SearchPlan(tier=tier, gpu_count=dep.gpu_count)
        res = run_search_virtual(plan, VirtualLoad(dep, trajs, seed=seed), tick_s=2.0)
        assert res.primary.n_star is not None
        found.append(res.primary.n_star)
    assert all(abs(n - truth) <= tol for n in found), (truth, found)
