"""The console with several SLO tiers in one run: a family chosen on the setup screen, every
tier's bracket and threshold on the dashboard, the per-tier table and chart on the result screen,
the per-tier rows of a comparison; driven with Pilot against the fake engine's family script
(real summary, level and view models) and a real SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console as RichConsole
from textual.widgets import DataTable, Input, Select, Static

from agentperf_tui.core.choices import load_choices
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.tui import palette
from agentperf_tui.tui.app import make_app
from agentperf_tui.tui.screens.compare import CompareScreen
from agentperf_tui.tui.screens.dashboard import DashboardScreen
from agentperf_tui.tui.screens.result import ResultScreen
from agentperf_tui.tui.screens.runs import RunsScreen
from agentperf_tui.tui.screens.setup import SetupScreen
from agentperf_tui.tui.widgets.panel import Panel
from agentperf_tui.tui.widgets.status import RunStatus
from agentperf_tui.tui.widgets.tier_results import TierBars, TierTable, tier_bars

from .conftest import EngineBox, console, fixed_report, write_run
from .fakes import FAMILY, FAMILY_SPEC, SearchScript, family_script
from .test_first_hour import screen_text
from .test_flows import static_text, wait_for

MID_SEARCH = 230
"""Snapshots into the script: N=48 being measured; 30-10 and 100-5 bracketed in [32, 64), 300-3
below 8."""


def rendered(renderable: Any, width: int = 200) -> str:
    console = RichConsole(width=width, color_system=None)
    with console.capture() as cap:
        console.print(renderable)
    return cap.get()


def family_console(**kwargs: Any) -> tuple[Any, EngineBox]:
    cfg = RunConfig(mode="search", tier=FAMILY_SPEC, concurrency=8)
    return console(cfg, script=family_script(), **kwargs)


async def test_setup_offers_each_family_as_one_choice_and_says_how_many_tiers() -> None:
    choices = load_choices()
    labels = dict((name, label) for label, name in choices.tiers)
    assert labels["gpt-oss-120b@rev1"] == "gpt-oss-120b@rev1  all 4 tiers"
    assert labels["deepseek-v4-pro@2026-06"] == "deepseek-v4-pro@2026-06  all 3 tiers"
    assert "gpt-oss-120b@rev1/250-3" in labels, "the single tiers are still offered"
    box = EngineBox()
    app = make_app(RunConfig(mode="search", tier="gpt-oss-120b", concurrency=4), engine_factory=box,
                   prober=fixed_report, choices=choices)  # fmt: skip
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        await pilot.pause()
        # a family named without its version is its newest version's entry
        assert screen.query_one("#tier", Select).value == "gpt-oss-120b@rev1"
        cfg = screen.collect()
        assert cfg.tier == "gpt-oss-120b@rev1" and len(cfg.slo_tiers()) == 4
        plan = static_text(screen.query_one("#plan", Static))
        assert "4 tiers, judged on the same levels" in plan
        assert "2000-1: ≥ 2000 tok/s, ≤ 1 s" in plan

        # a list typed in the custom box
        screen.query_one("#tier", Select).value = "__custom__"
        screen.query_one("#tier-custom", Input).value = "30/10, 100/5"
        await pilot.pause()
        assert screen.collect().tier == "30/10, 100/5"
        assert "2 tiers, judged on the same levels: custom/30-10,100-5" in static_text(
            screen.query_one("#plan", Static)
        )

        # a bad list names the box and what to do, and nothing starts
        screen.query_one("#tier-custom", Input).value = "30/10,,100/5"
        await pilot.pause()
        plan = static_text(screen.query_one("#plan", Static))
        assert "Custom S/T: tier list '30/10,,100/5' has an empty entry" in plan
        await pilot.press("f5")
        await pilot.pause()
        assert not box.engines and isinstance(app.screen, SetupScreen)


async def test_dashboard_shows_every_tier_bracket_verdict_and_threshold() -> None:
    app, box = family_console(autostart=True, autoplay=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        box.last.play(MID_SEARCH)
        await pilot.pause(0.2)
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        dash.redraw(all_at_once=True)
        await pilot.pause()
        search = rendered(dash.query_one("#search", Panel).render())
        lines = {line.split()[0]: line for line in search.splitlines() if line.strip()[:1].isdigit()}
        # one line per tier: its bracket on the shared axis, where its N* stands, its live verdict
        assert "[32, 64)" in lines["30-10"] and "~pass" in lines["30-10"]
        assert "[32, 64)" in lines["100-5"] and "~fail" in lines["100-5"]
        assert "< 8" in lines["300-3"] and "~fail" in lines["300-3"]
        assert "✗" in lines["300-3"].split("< 8")[0], "300-3 failed every level so far"
        assert "3 tiers on shared levels · 0 found" in search
        ttft = rendered(dash.query_one("#ttft", Panel).render())
        assert "≤10s✓ ≤5s✓ ≤3s✗" in ttft  # p95 3.73 s against each tier's limit
        for name in ("30-10", "100-5", "300-3"):
            assert name in ttft, f"the {name} limit line is named"
        speed = rendered(dash.query_one("#speed", Panel).render())
        assert "≥30✓ ≥100✗ ≥300✗" in speed  # P25 92 tok/s against each floor
        assert "▲30" in speed and "▲100" in speed
        status = rendered(dash.query_one("#status", RunStatus).render())
        assert "tiers deepseek-v4-pro@2026-06/30-10,100-5,300-3" in status
        assert "N* 30-10 [32, 64) · 100-5 [32, 64) · 300-3 < 8" in status

        # once decided, each level's verdict for each tier is listed
        box.last.play(10_000)
        await pilot.pause(0.2)
        dash.redraw(all_at_once=True)
        await pilot.pause()
        await pilot.resize_terminal(160, 48)
        await pilot.pause(0.3)
        dash.redraw(all_at_once=True)
        await pilot.pause()
        search = rendered(dash.query_one("#search", Panel).render(), width=300)
        assert "30-10:pass 100-5:fail/speed 300-3:fail/speed+ttft" in search  # N=48
        assert "3 tiers on shared levels · 3 found" in search
        assert "N*=56" in search and "N*=32" in search and "N*=0" in search


async def test_result_screen_has_a_table_and_chart_across_tiers() -> None:
    app, box = family_console(autostart=True, autoplay=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        box.last.play(10_000)
        box.last.finish()
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        result = app.screen
        assert isinstance(result, ResultScreen)
        assert [r.n_star for r in result.summary.results] == [56, 32, 0]
        stars = static_text(result.query_one("#nstar-tiers", Static))
        assert [line.split() for line in stars.strip().splitlines()] == [
            ["30-10", "N*", "56"], ["100-5", "N*", "32"], ["300-3", "N*", "0"],
        ]  # fmt: skip
        table = rendered(result.query_one(TierTable).render(), width=120)
        rows = {line.split()[0]: line.split() for line in table.splitlines() if line.strip()}
        # tier, N*, agents/GPU, agents/MW, GPU power, level (# N), confidence, bound by
        assert rows["30-10"][:8] == ["30-10", "56", "14.00", "15,368", "3.64", "kW", "#6", "N=56"]
        assert rows["100-5"][1:4] == ["32", "8.00", "11,645"]
        assert rows["300-3"][1:4] == ["0", "0.00", "—"]
        assert "P25 output speed (N=64 failed)" in table
        assert "simulated" in str(result.query_one(TierTable).border_subtitle)
        bars = rendered(tier_bars(result.summary, 90))
        assert "agents per MW (simulated GPU power over each tier's level window)" in bars
        assert "agents per GPU, of 4 GPUs (SIMULATED)" in bars
        per_mw = next(line for line in bars.splitlines() if line.lstrip().startswith("30-10"))
        assert per_mw.rstrip().endswith("15,368") and "█" in per_mw
        assert bars.count("no level met the tier") == 2, "300-3 has no bar, and says why"
        assert "SIMULATED" in str(result.query_one(TierBars).border_title)
        levels = result.query_one("#levels", DataTable)
        assert [str(c.label) for c in levels.columns.values()][:3] == ["N", "verdict", "tiers"]
        tiers_at_48 = levels.get_row_at(4)[2]
        assert "30-10:pass 100-5:fail/speed" in str(tiers_at_48)
        fail = tiers_at_48.plain.index("fail/speed")
        assert any(s.start <= fail < s.end and palette.FAIL in str(s.style) for s in tiers_at_48.spans)
        # at 80x24 the table says what bound each tier in short
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        shot = screen_text(app)
        assert "speed, N=64 failed" in shot and "N*" in shot


async def test_compare_names_each_tier_once_and_fits_80x24(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite3"
    write_run(store, SearchScript(), note="one tier")
    write_run(store, family_script(), note="three tiers", family=True)
    for size in ((120, 40), (80, 24)):
        await _compare_at(store, size)


async def _compare_at(store: Path, size: tuple[int, int]) -> None:
    app, _ = console(RunConfig(store=str(store), mode="fixed"))
    async with app.run_test(size=size) as pilot:
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.runs) == 2)
        await pilot.press("space", "down", "space", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and bool(app.screen.differences))
        table = app.screen.query_one(DataTable)
        assert sum(col.get_render_width(table) for col in table.columns.values()) <= size[0] - 2
        names = [str(table.get_row_at(r)[0]) for r in range(table.row_count)]
        headings = [n for n in names if n.startswith("tier ")]
        if size[0] >= 120:
            assert headings == [f"tier {t.name}" for t in FAMILY] + ["tier deepseek-v4-pro@rev1/100-5"]
        else:
            assert headings == [f"tier {t.name.rpartition('/')[2]}" for t in FAMILY] + ["tier 100-5"]
        first = names.index(headings[0])
        assert names[first + 1 : first + 3] == ["  power basis", "  N*"], "rows under it lose the tier"
        assert not any(" @ " in n for n in names), "no row repeats its tier's name"
        if size[1] >= 36:  # each run's levels beside the table: the family's with a mark per tier
            levels = static_text(app.screen.query_one("#levels-a", Static)) + static_text(
                app.screen.query_one("#levels-b", Static)
            )
            assert "✓✓✗" in levels and "✓✗✗" in levels and "✗✗✗" in levels
        row = [str(c) for c in table.get_row_at(first)]
        criteria = "≥ 30 tok/s, ≤ 10 s" if size[0] >= 120 else "≥30 tok/s ≤10 s"
        assert sorted(row[1:3]) == ["not judged", criteria], "the tier's figures whole, never cut"
