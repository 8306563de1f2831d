"""Recipes (deployment shapes as data), the rack-scale pool engine and the shape-choosing plan."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from agentperf_tui.cli import plan as plan_cli
from agentperf_tui.core.simulator.profiles import ProfileError, profile_dirs
from agentperf_tui.core.simulator.recipes import list_recipes, load_recipe, load_recipe_file
from agentperf_tui.core.simulator.shapes import candidate_shapes, shape_from
from agentperf_tui.core.simulator.virtual import VirtualLoad
from agentperf_tui.core.summary.model import SUMMARY_SCHEMA, RunSummary
from agentperf_tui.core.workload.synth import write_synth_set
from agentperf_tui.core.workload.trajectory import load_set
from tests.simulator.workloads import token_trajectory

MODELS = ("deepseek-v4-pro", "gpt-oss-120b", "llama-3.3-70b")
HARDWARE = ("h100-sxm", "h200-sxm", "b200", "gb200-nvl72", "gb300-nvl72")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("hardware", HARDWARE)
def test_every_required_recipe_is_shipped_cites_its_source_and_fits(model: str, hardware: str) -> None:
    assert (model, hardware) in list_recipes()
    rec = load_recipe(model, hardware)
    for s in rec.shapes:
        assert s.url.startswith("https://") and s.source
    budget = 32 if (model, hardware) == ("deepseek-v4-pro", "h100-sxm") else 72 if "nvl72" in hardware else 8
    assert candidate_shapes(rec, budget), "at least one shape fits the budget"


def test_a_bad_recipe_names_the_file_and_the_field(tmp_path: Path) -> None:
    src = (profile_dirs()[0] / "recipes" / "deepseek-v4-pro" / "gb300-nvl72.toml").read_text()
    bad = tmp_path / "x.toml"
    bad.write_text(src.replace('mode = "disaggregated"', 'mode = "sideways"', 1))
    with pytest.raises(ProfileError) as e:
        load_recipe_file(bad)
    assert "x.toml" in str(e.value) and "mode" in str(e.value)
    bad.write_text(src.replace("acceptance_length = 2.49", "acceptance_length = 9.0", 1))
    with pytest.raises(ProfileError, match="acceptance_length"):
        load_recipe_file(bad)


def test_pool_engine_holds_the_batch_cap_and_queues_the_rest() -> None:
    shape = shape_from("deepseek-v4-pro", "h200-sxm", "agg-tp8-mtp", 8)
    trajs = [token_trajectory(f"t{i}", turns=3, first=4000, new=300, out=200, delay=0.5) for i in range(4)]
    load = VirtualLoad(shape, trajs, seed=1)
    load.set_concurrency(80)
    seen_running = 0
    done = []
    for _ in range(30):
        done += load.advance(2.0)
        seen_running = max(seen_running, load.engine.running)
    assert seen_running <= shape.spec.decode.max_batch_per_rank  # TP8: one rank, 32 slots
    assert done and all(r.ok and r.output_tokens == r.requested_output_tokens for r in done)
    assert all(r.t_first_token >= r.t_intended for r in done)
    assert load.engine.c.slot_limited_s > 0  # 80 agents wanted more than 32 slots
    assert load.power_w() > shape.hardware.idle_w * shape.gpu_count


def test_wide_ep_rack_beats_a_hopper_node_per_gpu_by_a_wide_margin() -> None:
    from agentperf_tui.core.search.shape_plan import rank_shapes, workload_stats
    from agentperf_tui.core.tiers import parse_tier

    trajs = load_set(profile_dirs()[0].parent / "trajectories" / "default")
    stats = workload_stats(trajs, "baseline")
    tier = parse_tier("deepseek-v4-pro@2026-06/30-10")
    h200 = rank_shapes(load_recipe("deepseek-v4-pro", "h200-sxm"), 8, tier, stats)[0]
    gb300 = rank_shapes(load_recipe("deepseek-v4-pro", "gb300-nvl72"), 72, tier, stats)[0]
    per_gpu = (gb300.estimate.agents / 72) / (h200.estimate.agents / 8)
    assert per_gpu > 3
    assert gb300.shape.disaggregated and h200.estimate.bound in ("batch cap", "decode bandwidth")


def test_plan_chooses_a_shape_and_reports_winner_runner_up_and_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "quick"
    write_synth_set(d, seed=7, count=12, preset="quick", overwrite=True)
    parser = argparse.ArgumentParser()
    plan_cli.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "plan",
            "--hardware",
            "h200-sxm",
            "--sim-model",
            "gpt-oss-120b",
            "--tier",
            "20/5",
            "--gpus",
            "2",
            "--trajectories",
            str(d),
            "--tick",
            "2",
        ]
    )
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    s = json.loads(out)
    summary = RunSummary.model_validate(s)  # the plan's JSON is exactly a RunSummary
    assert s["schema"] == SUMMARY_SCHEMA and summary.clock == "virtual" and summary.simulated
    plan = summary.plan
    assert plan is not None and plan.gpu_budget == 2 and summary.gpu_count is not None
    assert summary.gpu_count <= 2 and plan.shape.gpus == summary.gpu_count
    runner = plan.runner_up
    assert plan.shape.bound and runner is not None and runner.bound
    assert (runner.name, runner.summary) != (plan.shape.name, plan.shape.summary)
    n_star = summary.results[0].n_star
    assert n_star is not None and n_star == plan.shape.n_star
    lo, hi = plan.shape.plausible_range
    assert lo <= n_star <= hi
    assert "SIMULATED" in err and "winner:" in err and "runner-up:" in err and "bound by" in err
    # with no --max, each shape is searched up to twice what its decode slots or KV cache hold,
    # so the answer is a number, not a cap
    from agentperf_tui.core.search.shape_plan import default_max_n, rank_shapes, workload_stats
    from agentperf_tui.core.tiers import parse_tier

    stats = workload_stats(load_set(d), "recorded")
    cands = rank_shapes(load_recipe("gpt-oss-120b", "h200-sxm"), 2, parse_tier("20/5"), stats)
    held = {(c.shape.spec.name, c.shape.summary): c.estimate.held for c in cands}
    for shape in (plan.shape, runner):
        assert shape.max_n is not None and shape.max_n >= 2 * held[shape.name, shape.summary]
        assert shape.n_star is not None and shape.n_star < shape.max_n
    assert not summary.results[0].capped and "up to N=" in err and "--max to change" in err
    assert default_max_n(100.2, 4) == 201 and default_max_n(0.0, 4) == 4


def test_searching_the_runner_up_alongside_gives_the_answers_of_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentperf_tui.core.search import shape_plan
    from agentperf_tui.core.search.plan import SearchPlan
    from agentperf_tui.core.tiers import parse_tier

    d = tmp_path / "quick"
    write_synth_set(d, seed=3, count=6, preset="quick", overwrite=True)
    trajs = load_set(d)
    tier = parse_tier("20/5")
    cands = shape_plan.distinct_top(
        shape_plan.rank_shapes(load_recipe("gpt-oss-120b", "h200-sxm"), 2, tier,
                               shape_plan.workload_stats(trajs, "recorded"))
    )
    assert len(cands) == 2
    jobs = [(c, SearchPlan(mode="search", tier=tier, start_n=8, max_n=256, gpu_count=c.shape.gpu_count))
            for c in cands]
    kw = {"seed": 1, "tool_delay": "recorded", "tick_s": 2.0}
    alongside = shape_plan.search_shapes(jobs, trajs, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(shape_plan.os, "cpu_count", lambda: 1)
    in_turn = shape_plan.search_shapes(jobs, trajs, **kw)  # type: ignore[arg-type]
    for a, b in zip(alongside, in_turn, strict=True):
        assert a.result.levels == b.result.levels and a.result.results == b.result.results
        assert a.bound == b.bound and a.shape == b.shape


def test_when_no_shape_holds_an_agent_the_fastest_decode_ranks_first() -> None:
    from agentperf_tui.core.search.shape_plan import rank_shapes, workload_stats
    from agentperf_tui.core.tiers import parse_tier

    trajs = load_set(profile_dirs()[0].parent / "trajectories" / "default")
    cands = rank_shapes(load_recipe("deepseek-v4-pro", "gb300-nvl72"), 72, parse_tier("2000/1"),
                        workload_stats(trajs, "baseline"))
    assert all(c.estimate.agents == 0 for c in cands)
    speeds = [c.estimate.speed for c in cands]
    assert speeds == sorted(speeds, reverse=True)
