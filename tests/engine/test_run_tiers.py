"""A run judged against several SLO tiers: the configuration, and a headless run on the embedded
simulator read back from the store."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from agentperf_tui.cli import runs as runs_cli
from agentperf_tui.cli.common import ArgError, add_run_args, config_from_args
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.store import load_run

REPO = Path(__file__).resolve().parents[2]


def test_a_family_or_a_list_of_tiers_in_the_config() -> None:
    family = RunConfig(mode="search", tier="deepseek-v4-pro@2026-06")
    assert [t.name for t in family.slo_tiers()] == [
        "deepseek-v4-pro@2026-06/30-10", "deepseek-v4-pro@2026-06/100-5", "deepseek-v4-pro@2026-06/300-3",
    ]  # fmt: skip
    assert family.slo_tier() == family.slo_tiers()[0]
    # no request is cut short while it can still meet the loosest TTFT limit (10 s)
    limits = family.request_limits()
    assert (limits.stall_first_s, limits.stall_gap_s) == (30.0, 10.0)
    listed = RunConfig(mode="search", tier="30/20,100/5")
    assert [t.name for t in listed.slo_tiers()] == ["custom/30-20", "custom/100-5"]
    assert listed.request_limits().stall_first_s == 60.0
    single = RunConfig(mode="search", tier="100/5")
    assert [t.name for t in single.slo_tiers()] == ["custom/100-5"]
    assert RunConfig().slo_tiers() == () and RunConfig().slo_tier() is None


@pytest.mark.parametrize(
    "tier,needle",
    [
        ("30/10,,100/5", "empty entry"),
        ("30/10,30/10", "listed twice"),
        ("deepseek-v4-pro@nope", "versions of deepseek-v4-pro"),
        ("no-such-family", "known families"),
    ],
)
def test_bad_tier_lists_name_the_flag(tier: str, needle: str) -> None:
    parser = argparse.ArgumentParser()
    add_run_args(parser)
    args = parser.parse_args(["--tier", tier])
    with pytest.raises(ArgError) as e:
        config_from_args(args, mode="search")
    assert str(e.value).startswith("--tier: ") and needle in str(e.value)


@pytest.mark.slow
def test_a_headless_run_against_two_tiers_is_stored_and_shown_per_tier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "runs.sqlite3"
    out = subprocess.run(
        [sys.executable, "-m", "agentperf_tui", "run", "--headless", "--concurrency", "3", "--duration", "8",
         "--warmup", "1",
         "--tier", "5/10,1000/0.01", "--store", str(store), "--telemetry", "sim", "--progress-every", "5"],
        capture_output=True, timeout=120, cwd=REPO, env=dict(os.environ),
    )  # fmt: skip
    err = out.stderr.decode()
    assert out.returncode == 0, err[-2000:]
    summary = orjson.loads(out.stdout)
    assert summary["schema"] == "agentperf-summary/2"
    assert [r["tier_name"] for r in summary["results"]] == ["custom/5-10", "custom/1000-0.01"]
    # the one level held at N=3, judged against both tiers on the same window
    (level,) = summary["levels"]
    assert [(v["tier"], v["used"], v["role"]) for v in level["tiers"]] == [
        ("custom/5-10", True, "fixed"), ("custom/1000-0.01", True, "fixed"),
    ]  # fmt: skip
    loose, strict = level["tiers"]
    assert loose["speed_verdict"] == "pass" and strict["speed_verdict"] == "fail"  # 5 and 1000 tok/s
    assert strict["failing_criterion"] == "speed+ttft" and not strict["passed"]
    assert summary["results"][1]["n_star"] is None and summary["results"][1]["first_fail_n"] == 3
    assert all(v["requests"] == level["requests"] > 0 for v in level["tiers"])
    # the stderr summary: one line per tier
    assert "result: custom/5-10: N*=" in err
    assert "result: custom/1000-0.01: N*=-, " in err and "bound by P25 output speed and P95 TTFT" in err
    # the store keeps both tiers: the configuration, the levels, the summary
    run = load_run(store, "latest")
    assert [t["name"] for t in run.config["tiers_resolved"]] == ["custom/5-10", "custom/1000-0.01"]
    assert run.summary.results == tuple(
        type(run.summary.results[0]).model_validate(r) for r in summary["results"]
    )
    assert run.levels[0].tiers == run.summary.levels[0].tiers and len(run.levels[0].tiers) == 2
    assert run.info.tier == "custom/5-10,1000-0.01"
    assert run.info.headline.startswith("fixed N=3: ")
    assert run.info.headline.endswith(",fail @ custom/5-10,1000-0.01")
    parser = argparse.ArgumentParser()
    runs_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["runs", "show", "latest", "--store", str(store)])
    assert args.func(args) == 0
    shown = capsys.readouterr().out
    tiers = shown[shown.index("\ntiers (") :].splitlines()
    assert tiers[3].split()[:2] == ["custom/5-10", str(summary["results"][0]["n_star"] or "—")]
    assert tiers[4].split()[:2] == ["custom/1000-0.01", "—"]
    assert "P25 output speed and P95 TTFT (N=3 failed)" in tiers[4]
    assert "TIERS" in shown and "1000-0.01:fail/speed+ttft" in shown
