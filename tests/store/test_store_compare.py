"""Side-by-side comparison: headline figures at N*, which run is better, config differences."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from store_factories import make_level, make_result, make_summary, new_run

from agentperf_tui.core.store import Difference, RunStore, compare_runs, load_run, run_figures
from agentperf_tui.core.tiers import SloTier, custom_tier

DEEPSEEK = SloTier(100.0, 5.0, family="deepseek-v4", version="2026-06")


@pytest.fixture
def two_runs(store: RunStore, db: Path) -> tuple[str, str]:
    a = new_run(store, config={"gpu_count": 8, "seed": 1, "tier": "deepseek-v4/100-5"})
    levels_a = [make_level(8, mean_power_w=4000.0), make_level(16, verdict="fail", failed=50, index=1)]
    for lv in levels_a:
        store.put_level(a, lv)
    store.add_requests(a, [make_result(i, ok=i != 3) for i in range(10)], level=0)
    summary_a = make_summary(levels_a, n_star=8, tier=DEEPSEEK, gpu_count=8)
    store.finish_run(a, status="finished", summary=summary_a)

    b = new_run(store, config={"gpu_count": 8, "seed": 2, "extra": {"k": 1}})
    levels_b = [make_level(12, mean_power_w=5000.0, speed_p25=110.0, ttft_p95=3.0)]
    store.put_level(b, levels_b[0])
    store.add_requests(b, [make_result(i) for i in range(10)], level=0)
    store.finish_run(b, status="finished", summary=make_summary(levels_b, n_star=12, gpu_count=8))
    store.flush()
    return a, b


def _by_field(diffs: list[Difference]) -> dict[str, Difference]:
    return {d.field: d for d in diffs}


def test_headline_figures_and_better_side(db: Path, two_runs: tuple[str, str]) -> None:
    a, b = (load_run(db, r) for r in two_runs)
    d = _by_field(compare_runs(a, b))
    assert (d["run"].a, d["run"].b) == two_runs
    assert d["tier"].a == "deepseek-v4@2026-06/100-5" and d["tier"].b is None
    assert (d["N*"].a, d["N*"].b, d["N*"].delta, d["N*"].better) == (8, 12, 4, "b")
    assert (d["agents/GPU"].a, d["agents/GPU"].b, d["agents/GPU"].better) == (1.0, 1.5, "b")
    assert d["agents/MW"].a == pytest.approx(2000.0) and d["agents/MW"].b == pytest.approx(2400.0)
    assert d["agents/MW"].better == "b"
    speed = d["P25 speed at level N (tok/s)"]
    assert (speed.a, speed.b, speed.better, speed.delta) == (120.5, 110.0, "a", -10.5)
    assert d["P95 TTFT at level N (s)"].better == "a"  # lower is better
    assert d["error rate at level N"].better is None  # 4 of 200 on both sides
    whole = d["error rate (whole run)"]
    assert (whole.a, whole.b, whole.better) == (0.1, 0.0, "b")
    assert d["mean GPU power at level N (W)"].better is None  # not a merit on its own
    config_rows = {k: v for k, v in d.items() if k.startswith("config.")}
    assert set(config_rows) == {"config.seed", "config.extra.k", "config.tier"}
    assert (config_rows["config.seed"].delta, config_rows["config.seed"].better) == (1.0, None)
    assert (config_rows["config.extra.k"].a, config_rows["config.extra.k"].b) == (None, 1)
    # Swapping the runs swaps the verdicts.
    swapped = _by_field(compare_runs(b, a))
    assert swapped["N*"].better == "a" and swapped["P25 speed at level N (tok/s)"].better == "b"


def test_figures_come_from_the_summary_and_admit_unknowns(store: RunStore, db: Path) -> None:
    run_id = new_run(store, config={})
    level = make_level(6, mean_power_w=None, power_note="no power reading")
    store.put_level(run_id, level)
    summary = make_summary([level], n_star=6, nominal_gpu_power_w=None, requests=(196, 4))
    store.finish_run(run_id, status="finished", summary=summary)
    store.flush()
    figures = run_figures(load_run(db, run_id))
    assert figures.head.n_star == 6 and figures.head.agents_per_mw is None
    assert "no power reading" in figures.head.power_text()
    assert figures.head.gpus is None and figures.head.agents_per_gpu is None
    assert figures.head.mean_power_w is None
    assert figures.error_rate == pytest.approx(4 / 200)  # from the summary when no requests are stored

    other = new_run(store, config={})
    store.put_level(other, make_level(6, mean_power_w=None))
    store.flush()
    d = _by_field(compare_runs(load_run(db, run_id), load_run(db, other)))
    assert (d["agents/MW"].b, d["agents/MW"].delta, d["agents/MW"].better) == (None, None, None)
    assert d["status"].b == "running" and d["N*"].b == 6  # unfinished: best pass so far


def test_version_1_summaries_are_upgraded_on_read(store: RunStore, db: Path) -> None:
    """Runs stored before the typed summary (the engine's dict, result under "result") read as
    today's RunSummary: same N*, normalised figures, tier name and labels."""
    result = {
        "n_star": 12, "agents_per_gpu": 1.5, "agents_per_mw": 2400.0, "power_w": 5000.0,
        "power_basis": "nominal", "tier": "deepseek-v4@2026-06/100-5", "gpu_count": 8,
        "speed_floor": 100.0, "ttft_limit": 5.0,
    }  # fmt: skip
    tier_dict = {"speed_tok_s": 100.0, "ttft_s": 5.0, "family": "deepseek-v4", "version": "2026-06"}
    level12 = make_level(12, mean_power_w=4800.0).model_dump(mode="json")
    level1 = make_level(1, verdict="fail").model_dump(mode="json")
    good = new_run(store, config={"tier": "deepseek-v4/100-5"})
    none = new_run(store, config={})
    store.flush()
    v1 = {
        good: {"result": result, "gpu_count": 8, "tier": tier_dict, "levels": [level12]},
        none: {"result": {**result, "n_star": 0}, "tier": tier_dict, "levels": [level1]},
    }
    with sqlite3.connect(db) as conn:
        for run_id, summary in v1.items():
            conn.execute(
                "UPDATE runs SET status = 'finished', summary = ? WHERE id = ?",
                (orjson.dumps(summary).decode(), run_id),
            )

    a, b = load_run(db, good), load_run(db, none)
    assert a.summary.final and a.summary.schema_ == "agentperf-summary/2"
    assert a.info.headline == "N*=12 @ deepseek-v4@2026-06/100-5"
    assert b.info.headline == "no passing level @ deepseek-v4@2026-06/100-5"
    head = run_figures(a).head
    assert (head.n_star, head.gpus, head.agents_per_gpu, head.agents_per_mw) == (12, 8, 1.5, 2400.0)
    assert (head.mean_power_w, head.power_basis) == (5000.0, "nominal")  # the summary's, labelled
    assert head.level is not None and head.level.n == 12
    d = _by_field(compare_runs(a, b))
    assert (d["N*"].a, d["N*"].b, d["N*"].better) == (12, 0, "a")
    assert (d["power basis"].a, d["power basis"].delta) == ("nominal", None)


def test_fixed_runs_compare_at_their_n_and_the_same_tier_reads_the_same(store: RunStore, db: Path) -> None:
    # Before and after a server change, both held at N=24 for a fixed time: no search, no N*.
    tier = custom_tier(41.2, 3)
    before = new_run(store, config={"mode": "fixed", "concurrency": 24, "tier": "41.2/3"})
    held = make_level(24, speed_p25=50.0, ttft_p95=2.0, role="fixed")
    store.put_level(before, held)
    store.finish_run(
        before, status="finished", summary=make_summary([held], n_star=24, tier=tier, mode="fixed")
    )
    after = new_run(store, config={"mode": "fixed", "concurrency": 24, "tier": "custom/41.2-3"})
    missed = make_level(24, verdict="fail", speed_p25=38.0, ttft_p95=3.5, role="fixed")
    store.put_level(after, missed)
    running = new_run(store, config={"mode": "fixed", "concurrency": 24, "tier": "41.2/3"})
    store.put_level(
        running, make_level(24, verdict="undecided", role="fixed", phase="measuring", outcome=None)
    )
    store.finish_run(
        after, status="finished", summary=make_summary([missed], n_star=None, tier=tier, mode="fixed")
    )
    store.flush()

    a, b, c = load_run(db, before), load_run(db, after), load_run(db, running)
    assert a.info.headline == "fixed N=24: pass @ custom/41.2-3"
    assert b.info.headline == "fixed N=24: fail @ custom/41.2-3"
    assert c.info.headline == "fixed N=24: undecided so far @ custom/41.2-3"
    d = _by_field(compare_runs(a, b))
    assert d["tier"].a == d["tier"].b == "custom/41.2-3", "one tier, however it was written down"
    assert (d["mode"].a, d["mode"].b) == ("fixed", "fixed")
    assert (d["N*"].a, d["N*"].b) == (24, None), "a fixed run's N* is its N when the tier held"
    assert (d["level N (N*, or a fixed run's N)"].a, d["level N (N*, or a fixed run's N)"].b) == (24, 24)
    speed = d["P25 speed at level N (tok/s)"]
    assert (speed.a, speed.b, speed.better) == (50.0, 38.0, "a")
    assert d["P95 TTFT at level N (s)"].better == "a"
    assert run_figures(a).head.at == "N*" and run_figures(b).head.at == "N=24"
    assert "config.tier" in d, "the config rows still show how each was typed"
