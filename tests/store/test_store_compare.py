"""Side-by-side comparison: headline figures at N*, which run is better, config differences."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_factories import make_level, make_result, new_run

from agentperf_tui.core.store import Difference, RunStore, compare_runs, load_run, run_figures


@pytest.fixture
def two_runs(store: RunStore, db: Path) -> tuple[str, str]:
    tier = {"speed_tok_s": 100.0, "ttft_s": 5.0, "family": "deepseek-v4", "version": "2026-06"}
    a = new_run(store, config={"gpu_count": 8, "seed": 1, "tier": "deepseek-v4/100-5"})
    store.put_level(a, 0, make_level(8, mean_power_w=4000.0))
    store.put_level(a, 1, make_level(16, verdict="fail", failed=50))
    store.add_requests(a, [make_result(i, ok=i != 3) for i in range(10)], level=0)
    store.finish_run(a, status="finished", summary={"result": {"n": 8}, "gpu_count": 8, "tier": tier})

    b = new_run(store, config={"gpu_count": 8, "seed": 2, "extra": {"k": 1}})
    store.put_level(b, 0, make_level(12, mean_power_w=5000.0, speed_p25=110.0, ttft_p95=3.0))
    store.add_requests(b, [make_result(i) for i in range(10)], level=0)
    store.finish_run(b, status="finished", summary={"result_n": 12})
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


def test_figures_prefer_summary_values_and_admit_unknowns(store: RunStore, db: Path) -> None:
    run_id = new_run(store, config={})
    store.put_level(run_id, 0, make_level(6, mean_power_w=None, power_note="no power reading"))
    store.finish_run(run_id, status="finished", summary={"result_n": 6, "agents_per_mw": 1234.0})
    store.flush()
    figures = run_figures(load_run(db, run_id))
    assert figures.n_star == 6 and figures.agents_per_mw == 1234.0
    assert figures.gpus is None and figures.agents_per_gpu is None and figures.mean_power_w is None
    assert figures.error_rate == pytest.approx(4 / 200)  # from the levels when no requests are stored

    other = new_run(store, config={})
    store.put_level(other, 0, make_level(6, mean_power_w=None))
    store.flush()
    d = _by_field(compare_runs(load_run(db, run_id), load_run(db, other)))
    assert (d["agents/MW"].b, d["agents/MW"].delta, d["agents/MW"].better) == (None, None, None)
    assert d["status"].b == "running" and d["N*"].b == 6  # unfinished: best pass so far


def test_engine_summary_shape_is_understood(store: RunStore, db: Path) -> None:
    """The engine stores the search result under summary["result"] (SearchResult.to_dict)."""
    result = {
        "n_star": 12, "agents_per_gpu": 1.5, "agents_per_mw": 2400.0, "power_w": 5000.0,
        "power_basis": "nominal", "tier": "deepseek-v4@2026-06/100-5", "gpu_count": 8,
    }  # fmt: skip
    tier_dict = {"speed_tok_s": 100.0, "ttft_s": 5.0, "family": "deepseek-v4", "version": "2026-06"}
    good = new_run(store, config={"tier": "deepseek-v4/100-5"})
    store.put_level(good, 0, make_level(12, mean_power_w=4800.0))
    store.finish_run(good, status="finished", summary={"result": result, "gpu_count": 8, "tier": tier_dict})
    none = new_run(store, config={})
    store.put_level(none, 0, make_level(1, verdict="fail"))
    store.finish_run(none, status="finished", summary={"result": {**result, "n_star": 0}, "tier": tier_dict})
    store.flush()

    a, b = load_run(db, good), load_run(db, none)
    assert a.info.headline == "N*=12 @ deepseek-v4@2026-06/100-5"
    assert b.info.headline == "no passing level @ deepseek-v4@2026-06/100-5"
    figures = run_figures(a)
    assert (figures.n_star, figures.gpus, figures.agents_per_gpu, figures.agents_per_mw) == (
        12,
        8,
        1.5,
        2400.0,
    )
    assert (figures.mean_power_w, figures.power_basis) == (5000.0, "nominal")  # the summary's, labelled
    d = _by_field(compare_runs(a, b))
    assert (d["N*"].a, d["N*"].b, d["N*"].better) == (12, 0, "a")
    assert (d["power basis"].a, d["power basis"].delta) == ("nominal", None)


def test_fixed_runs_compare_at_their_n_and_the_same_tier_reads_the_same(store: RunStore, db: Path) -> None:
    # Before and after a server change, both held at N=24 for a fixed time: no search, no N*.
    tier_dict = {"speed_tok_s": 41.2, "ttft_s": 3.0, "family": None, "version": None, "label": None}
    before = new_run(store, config={"mode": "fixed", "concurrency": 24, "tier": "41.2/3"})
    store.put_level(before, 0, make_level(24, speed_p25=50.0, ttft_p95=2.0))
    store.finish_run(before, status="finished", summary={"result": None, "mode": "fixed", "tier": tier_dict})
    after = new_run(store, config={"mode": "fixed", "concurrency": 24, "tier": "custom/41.2-3"})
    store.put_level(after, 0, make_level(24, verdict="fail", speed_p25=38.0, ttft_p95=3.5))
    running = new_run(store, config={"mode": "fixed", "concurrency": 24, "tier": "41.2/3"})
    store.put_level(running, 0, make_level(24, verdict="undecided"))
    store.finish_run(after, status="finished", summary={"result": None})
    store.flush()

    a, b, c = load_run(db, before), load_run(db, after), load_run(db, running)
    assert a.info.headline == "fixed N=24: pass @ custom/41.2-3"
    assert b.info.headline == "fixed N=24: fail @ custom/41.2-3"
    assert c.info.headline == "fixed N=24: undecided so far @ custom/41.2-3"
    d = _by_field(compare_runs(a, b))
    assert d["tier"].a == d["tier"].b == "custom/41.2-3", "one tier, however it was written down"
    assert (d["mode"].a, d["mode"].b) == ("fixed", "fixed")
    assert (d["N*"].a, d["N*"].b) == (None, None)
    assert (d["level N (N*, or a fixed run's N)"].a, d["level N (N*, or a fixed run's N)"].b) == (24, 24)
    speed = d["P25 speed at level N (tok/s)"]
    assert (speed.a, speed.b, speed.better) == (50.0, 38.0, "a")
    assert d["P95 TTFT at level N (s)"].better == "a"
    assert run_figures(a).at == "N=24"
    assert "config.tier" in d, "the config rows still show how each was typed"
