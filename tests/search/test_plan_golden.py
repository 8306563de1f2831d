"""Pinned answers: two small plans on the virtual clock, every level and result as recorded.

The virtual clock is deterministic, so a change meant only to make it faster must leave these
bit for bit as they are (floats compared exactly). A change that is meant to alter answers
rewrites the files and says why:

    AGENTPERF_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/search/test_plan_golden.py
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import pytest

from agentperf_tui.cli import plan as plan_cli
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.virtual_run import run_search_virtual
from agentperf_tui.core.simulator.profiles import profile_dirs
from agentperf_tui.core.simulator.virtual import VirtualLoad
from agentperf_tui.core.tiers import custom_tier
from agentperf_tui.core.workload.trajectory import load_set
from tests.simulator.workloads import small_rack_shape

GOLDEN = Path(__file__).parent / "golden"
DEFAULT_TRAJECTORIES = profile_dirs()[0].parent / "trajectories" / "default"


def _check(name: str, got: Any) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(got, indent=1, sort_keys=True) + "\n"
    if os.environ.get("AGENTPERF_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    want = json.loads(path.read_text())
    assert json.loads(text) == want, f"{path.name}: the answer changed (see the module docstring)"


def _without_wall_times(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with the wall-clock figures (the only ones that vary between runs) left out."""
    out = dict(summary, wall_time_s=None)
    plan = dict(out["plan"])
    for key in ("shape", "runner_up"):
        if plan.get(key) is not None:
            plan[key] = dict(plan[key], wall_time_s=None)
    out["plan"] = plan
    return out


def test_h200_plan_for_deepseek_at_30_10_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    """The whole `plan` command (shape ranking, winner and runner-up searched side by side, the
    bounds) for one H200 node on the shipped trajectories."""
    parser = argparse.ArgumentParser()
    plan_cli.register(parser.add_subparsers())
    args = parser.parse_args([
        "plan", "--hardware", "h200-sxm", "--sim-model", "deepseek-v4-pro", "--tier",
        "deepseek-v4-pro@2026-06/30-10", "--trajectories", str(DEFAULT_TRAJECTORIES),
        "--tool-delay", "baseline",
    ])  # fmt: skip
    assert args.func(args) == 0
    out, _ = capsys.readouterr()
    _check("plan_h200_30-10", _without_wall_times(json.loads(out)))


def test_disaggregated_rack_search_is_unchanged() -> None:
    """A search on a disaggregated rack shape (prefill pool, KV transfer, MTP decode): ramp,
    bisection down and up, confirmation, open requests counted at the looks."""
    trajs = load_set(DEFAULT_TRAJECTORIES)[:8]
    load = VirtualLoad(small_rack_shape(), trajs, seed=3, tool_delay="baseline")
    plan = SearchPlan(tier=custom_tier(60, 5), start_n=16, max_n=4096, gpu_count=24, fast_cap_s=120)
    res = run_search_virtual(plan, load)
    _check("search_small_rack_60-5", {
        "levels": [r.model_dump(mode="json") for r in res.levels],
        "results": [r.model_dump(mode="json") for r in res.results],
        "duration_s": res.duration_s,
    })  # fmt: skip
