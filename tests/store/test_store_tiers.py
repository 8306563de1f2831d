"""Runs judged against several SLO tiers in the store: the summary round trip, summaries and
levels written before per-tier verdicts, the rebuilt summary of an unfinished run, listing,
`runs show` and the per-tier compare."""

from __future__ import annotations

import argparse
import csv
import re
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from store_factories import make_level, make_summary, new_run

from agentperf_tui.cli import runs as runs_cli
from agentperf_tui.core.report.html import on_axis, render_report
from agentperf_tui.core.report.tier_rows import per_gpu_caption, per_mw_caption, tier_rows
from agentperf_tui.core.store import RunStore, compare_runs, export_csv, list_runs, load_run
from agentperf_tui.core.summary.headline import headline, headlines, summary_notes, tier_line
from agentperf_tui.core.summary.level import LevelRecord, TierVerdict
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.summary.normalise import normalise
from agentperf_tui.core.summary.result import TierResult
from agentperf_tui.core.summary.upgrade import read_summary
from agentperf_tui.core.tiers import SloTier

FAMILY = tuple(
    SloTier(s, t, family="deepseek-v4", version="2026-06") for s, t in ((30, 10), (100, 5), (300, 3))
)
NAMES = [t.name for t in FAMILY]


def verdicts(
    n: int, capacities: tuple[int, ...], used: tuple[bool, ...] = (True, True, True)
) -> tuple[TierVerdict, ...]:
    """Each tier's verdict at N for tiers with these capacities (a pass at or below them)."""
    return tuple(
        TierVerdict(
            tier=t.name, speed_tok_s=t.speed_tok_s, ttft_s=t.ttft_s, used=u, role="bisect" if u else None,
            speed_verdict="pass" if n <= cap else "fail", ttft_verdict="pass",
            verdict="pass" if n <= cap else "fail", passed=n <= cap, settled=True, confidence=0.95,
            failing_criterion=None if n <= cap else "speed", speed_p25=120.5, ttft_p95=2.25,
            requests=200, looks=2,
        )
        for t, cap, u in zip(FAMILY, capacities, used, strict=True)
    )  # fmt: skip


def tiered_level(n: int, index: int, capacities: tuple[int, ...], **over: Any) -> LevelRecord:
    tiers = verdicts(n, capacities)
    first = tiers[0]
    return make_level(
        n, index=index, verdict=first.verdict, passed=first.passed, speed_verdict=first.speed_verdict,
        failing_criterion=first.failing_criterion, tiers=tiers, **over,
    )  # fmt: skip


def family_summary(levels: list[LevelRecord], stars: tuple[int, ...], **over: Any) -> RunSummary:
    results = []
    for tier, star in zip(FAMILY, stars, strict=True):
        at = [lv for lv in levels if lv.n == star]
        power = at[-1].mean_power_w if at else None
        norm = normalise(star, 8, power if star else None)
        result = TierResult(
            tier=tier, n_star=star, level_n=star if at else None, level_index=at[-1].index if at else None,
            gpu_count=8, agents_per_gpu=norm.agents_per_gpu, agents_per_mw=norm.agents_per_mw,
            power_w=norm.power_w, power_basis=norm.power_basis, power_note=norm.note,
            first_fail_n=min((lv.n for lv in levels if lv.n > star), default=None),
            failing_criterion="speed", confidence=0.95, converged=True,
            notes=("N=16 passed once and failed its confirmation",),
        )  # fmt: skip
        results.append(result)
    fields: dict[str, Any] = dict(mode="search", gpu_count=8, levels=tuple(levels), results=tuple(results))
    fields.update(over)
    return RunSummary(**fields)


CAPS = (32, 8, 0)
LEVELS = [
    tiered_level(n, i, CAPS, mean_power_w=3000.0 + 10 * n)
    for i, n in enumerate((4, 8, 16, 32, 64, 48, 40, 36, 32))
]


@pytest.fixture
def family_run(store: RunStore) -> str:
    run_id = new_run(store, config={
        "tier": "deepseek-v4@2026-06", "mode": "search", "gpu_count": 8,
        "tier_resolved": FAMILY[0].to_dict(), "tiers_resolved": [t.to_dict() for t in FAMILY],
    })  # fmt: skip
    for lv in LEVELS:
        store.put_level(run_id, lv)
    store.finish_run(run_id, status="finished", summary=family_summary(LEVELS, (32, 8, 0)))
    store.flush()
    return run_id


def test_a_summary_with_several_tiers_round_trips(db: Path, family_run: str) -> None:
    run = load_run(db, family_run)
    assert run.summary == family_summary(LEVELS, (32, 8, 0)).model_copy(
        update={"run_id": run.summary.run_id, "store": run.summary.store}
    )
    assert [lv.tiers for lv in run.levels] == [lv.tiers for lv in LEVELS]
    # JSON and back, as every face reads it
    again = read_summary(orjson.loads(run.summary.to_json()))
    assert again == run.summary and again.schema_ == "agentperf-summary/2"
    assert [r.tier_name for r in again.results] == NAMES
    assert again.levels[3].for_tier(NAMES[1]) == verdicts(32, CAPS)[1]
    # listing: every tier's N* under one label
    (info,) = list_runs(db)
    assert info.tier == "deepseek-v4@2026-06/30-10,100-5,300-3"
    assert info.headline == "N*=32,8,0 @ deepseek-v4@2026-06/30-10,100-5,300-3"
    assert info.tier_names == tuple(NAMES) and info.result_n == 32


def test_each_tier_has_a_headline_line_and_its_notes(db: Path, family_run: str) -> None:
    summary = load_run(db, family_run).summary
    heads = headlines(summary)
    assert [h.n_star for h in heads] == [32, 8, 0]
    assert [h.level.n if h.level else None for h in heads] == [32, 8, None]
    first = tier_line(heads[0])
    assert first.startswith(f"{NAMES[0]}: N*=32, 4.00 agents/GPU (8 GPUs), ")
    assert "agents/MW (measured GPU power)" in first
    assert first.endswith("bound by P25 output speed (N=36 failed)")
    assert tier_line(heads[2]).startswith(f"{NAMES[2]}: N*=0, 0.00 agents/GPU (8 GPUs), agents/MW n/a")
    notes = summary_notes(summary)
    assert f"{NAMES[1]}: N=16 passed once and failed its confirmation" in notes


def test_runs_show_prints_a_line_per_tier(
    db: Path, family_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    runs_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["runs", "show", family_run, "--store", str(db)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("deepseek-v4@")}
    assert list(rows) == NAMES
    assert rows[NAMES[0]][:4] == [NAMES[0], "32", "4.00", f"{32 / 3.32e-3:,.0f}"]  # 32 agents / 3320 W
    assert rows[NAMES[1]][:4] == [NAMES[1], "8", "1.00", f"{8 / 3.08e-3:,.0f}"]
    assert rows[NAMES[2]][:2] == [NAMES[2], "0"]
    assert "P25 output speed (N=36 failed)" in out
    assert "30-10:pass 100-5:fail/speed 300-3:fail/speed" in out  # the TIERS column of N=32


def test_a_single_tier_summary_from_before_still_reads(store: RunStore, db: Path) -> None:
    """A stored summary whose levels have no per-tier verdicts (every run before them)."""
    run_id = new_run(store, config={"tier": "deepseek-v4/100-5"})
    levels = [make_level(8, mean_power_w=4000.0), make_level(16, verdict="fail", index=1)]
    for lv in levels:
        store.put_level(run_id, lv)
    summary = make_summary(levels, n_star=8, tier=FAMILY[1], gpu_count=8)
    stored = summary.model_dump(mode="json", by_alias=True)
    for lv in stored["levels"]:
        del lv["tiers"]  # as written before
    store.flush()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE runs SET status = 'finished', summary = ? WHERE id = ?",
            (orjson.dumps(stored).decode(), run_id),
        )
    run = load_run(db, run_id)
    assert run.summary.schema_ == "agentperf-summary/2" and run.summary.levels[0].tiers == ()
    # each level reads as the verdict of the run's one tier
    v = run.summary.levels[1].for_tier(NAMES[1])
    assert v is not None and (v.tier, v.verdict, v.passed, v.role) == (NAMES[1], "fail", False, "ramp")
    assert run.info.headline == f"N*=8 @ {NAMES[1]}"
    head = headline(run.summary)
    assert (head.n_star, head.agents_per_gpu, head.level_n) == (8, 1.0, 8)
    assert [h.n_star for h in headlines(run.summary)] == [8]


def test_an_unfinished_run_has_a_provisional_answer_per_tier(store: RunStore, db: Path) -> None:
    run_id = new_run(store, config={
        "mode": "search", "gpu_count": 8, "tier": "deepseek-v4@2026-06",
        "tiers_resolved": [t.to_dict() for t in FAMILY],
    })  # fmt: skip
    for lv in LEVELS[:6]:  # 4, 8, 16, 32, 64, 48 so far
        store.put_level(run_id, lv)
    store.flush()
    run = load_run(db, run_id)
    assert not run.summary.final
    found = [(r.tier_name, r.n_star) for r in run.summary.results]
    assert found == [(NAMES[0], 32), (NAMES[1], 8), (NAMES[2], None)]
    assert all("provisional" in r.notes[0] for r in run.summary.results if r.n_star is not None)
    assert run.info.headline == f"N>=32 so far @ {NAMES[0]} (of 3 tiers)"


def test_compare_matches_tiers_by_name(store: RunStore, db: Path, family_run: str) -> None:
    single = new_run(store, config={"tier": "deepseek-v4/100-5", "gpu_count": 8})
    level = make_level(12, mean_power_w=4000.0)
    store.put_level(single, level)
    summary = make_summary([level], n_star=12, tier=FAMILY[1], gpu_count=8)
    store.finish_run(single, status="finished", summary=summary)
    store.flush()
    d = {x.field: x for x in compare_runs(load_run(db, family_run), load_run(db, single))}
    assert d["tier"].a == "deepseek-v4@2026-06/30-10,100-5,300-3" and d["tier"].b == NAMES[1]
    # the shared tier: both sides, and which is better
    n = d[f"N* @ {NAMES[1]}"]
    assert (n.a, n.b, n.delta, n.better) == (8, 12, 4, "b")
    assert (d[f"agents/GPU @ {NAMES[1]}"].a, d[f"agents/GPU @ {NAMES[1]}"].b) == (1.0, 1.5)
    assert d[f"P25 speed at level N (tok/s) @ {NAMES[1]}"].a == 120.5
    # a tier only one run has: the other side is empty
    only = d[f"N* @ {NAMES[0]}"]
    assert (only.a, only.b, only.better) == (32, None, None)
    assert "N*" not in d and d["GPUs"].a == 8  # whole-run rows once, no tier-less N* row
    assert d["requests"].a is not None


def test_the_csv_export_has_each_tier_per_level_and_per_result(
    db: Path, family_run: str, tmp_path: Path
) -> None:
    written = export_csv(db, family_run, tmp_path / "csv")
    assert {p.name for p in written} >= {"level_tiers.csv", "results.csv", "levels.csv"}
    with (tmp_path / "csv" / "level_tiers.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(LEVELS) * len(FAMILY)
    at_32 = [r for r in rows if r["level"] == "3"]
    assert [(r["n"], r["tier"], r["verdict"], r["passed"]) for r in at_32] == [
        ("32", NAMES[0], "pass", "True"),
        ("32", NAMES[1], "fail", "False"),
        ("32", NAMES[2], "fail", "False"),
    ]  # fmt: skip
    with (tmp_path / "csv" / "results.csv").open() as f:
        results = list(csv.DictReader(f))
    assert [(r["tier_name"], r["n_star"], r["agents_per_gpu"]) for r in results] == [
        (NAMES[0], "32", "4.0"), (NAMES[1], "8", "1.0"), (NAMES[2], "0", "0.0"),
    ]  # fmt: skip


def test_each_tier_is_a_row_of_written_figures_with_honest_captions(db: Path, family_run: str) -> None:
    summary = load_run(db, family_run).summary
    rows = tier_rows(summary)
    assert [r.tier for r in rows] == NAMES and [r.short for r in rows] == ["30-10", "100-5", "300-3"]
    first = rows[0]
    assert (first.n_star, first.per_gpu, first.per_mw) == ("32", "4.00", "9,639")  # 32 / 3,320 W
    assert (first.power_w, first.power, first.level) == ("3.32 kW", "measured", "#9 N=32")  # its confirmation
    assert (first.confidence, first.bound_short) == ("95%", "speed, N=36 failed")
    assert first.bound_by == "P25 output speed (N=36 failed)"
    zero = rows[2]
    assert (zero.n_star, zero.per_mw, zero.power, zero.level) == ("0", "—", "—", "—")
    assert per_mw_caption(summary) == "agents per MW (measured GPU power over each tier's level window)"
    assert per_gpu_caption(summary) == "agents per GPU, of 8 GPUs"
    simulated = summary.model_copy(update={"simulated": True, "simulator": "m on 8 x h200 (simulated)"})
    assert per_gpu_caption(simulated) == "agents per GPU, of 8 GPUs (SIMULATED: m on 8 x h200 (simulated))"
    assert per_mw_caption(simulated).startswith("agents per MW (SIMULATED run, measured GPU power")


def test_the_html_report_has_a_table_and_bars_across_tiers(db: Path, family_run: str) -> None:
    html = render_report(load_run(db, family_run))
    assert re.search(r'class="big">32 · 8 · 0<', html), "N* of every tier, in the run's order"
    tiers = html.split("<h2>Tiers</h2>")[1].split("<h2>")[0]
    cells = [re.sub("<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tiers)]
    assert cells[:10] == [
        NAMES[0], "P25 ≥ 30 tok/s, P95 TTFT ≤ 10 s", "32", "4.00", "9,639", "3.32 kW", "measured", "#9 N=32",
        "95%", "P25 output speed (N=36 failed)",
    ]  # fmt: skip
    for title in ("Agents per MW by SLO tier", "Agents per GPU by SLO tier"):
        chart = html[html.index(f'aria-label="{title}"') :]
        chart = chart[: chart.index("</svg>")]
        ticks = re.findall(r'text-anchor="middle" fill="#555">([^<]+)</text>', chart)
        assert ticks == ["30-10", "100-5", "300-3 (none)"], "one bar per tier; one without a figure says so"
        bars = re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="(#\w+)"',
                          chart)
        heights = [float(h) for h, fill in bars if fill != "#fafafa"]
        assert heights[0] > heights[1] > 0 and heights[2] == 0
    assert "of 8 GPUs" in html and "measured GPU power over each tier&#x27;s level window" in html
    assert "30-10:pass 100-5:fail/speed 300-3:fail/speed" in html, "each level's verdict per tier"
    ttft = html[html.index('aria-label="P95 TTFT per level"') :]
    assert all(f"limit {s}" in ttft[: ttft.index("</svg>")] for s in ("30-10", "100-5", "300-3"))
    speed = html[html.index('aria-label="P25 output speed per level"') :]
    assert all(f"floor {s}" in speed[: speed.index("</svg>")] for s in ("30-10", "100-5", "300-3"))


def test_a_further_tier_far_off_the_plotted_values_is_named_not_drawn() -> None:
    floors = [(100.0, "#c62828", "floor 100-5"), (500.0, "#b28704", "floor 500-2"),
              (2000.0, "#00897b", "floor 2000-1")]  # fmt: skip
    kept, note = on_axis(floors, 274.0)  # the fastest level's P25
    assert [label for _, _, label in kept] == ["floor 100-5", "floor 500-2"]
    assert note == " (off the axis: floor 2000-1 2000)"
    first_only, _ = on_axis(floors[:1], 10.0)
    assert first_only == floors[:1], "the first tier's floor is always drawn"
    limits = [(5.0, "#c62828", "limit 100-5"), (1.0, "#b28704", "limit 2000-1")]
    assert on_axis(limits, 0.07) == (limits, ""), "the axis reaches the first limit: 1 s is on it"
