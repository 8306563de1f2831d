"""What an operator meets in a first hour with the console: setup that says what its defaults
are and when its check is stale, prompts that leave the run in view, an event log that wraps, and
the stored-runs and compare screens whole at 80x24."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Input, Select, Static

from agentperf_tui.core import defaults
from agentperf_tui.core.choices import Choices
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.views import Event
from agentperf_tui.tui.app import make_app
from agentperf_tui.tui.screens.compare import CompareScreen
from agentperf_tui.tui.screens.dashboard import DashboardScreen, EventLog
from agentperf_tui.tui.screens.prompt import PromptScreen
from agentperf_tui.tui.screens.result import ResultScreen
from agentperf_tui.tui.screens.runs import RunsScreen
from agentperf_tui.tui.screens.setup import SetupScreen

from .conftest import EngineBox, console, fixed_report
from .test_flows import static_text, wait_for
from .test_stored_runs import two_runs


def screen_text(app: Any) -> str:
    """The screen as plain text, line by line (from the SVG screenshot Textual makes)."""
    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows.setdefault(float(m.group(2)), []).append((float(m.group(1)), html.unescape(m.group(3))))
    lines = ("".join(t for _, t in sorted(cells)) for _, cells in sorted(rows.items()))
    return "\n".join(lines).replace("\xa0", " ")


async def test_setup_starts_at_the_defaults_that_belong_together() -> None:
    choices = Choices(
        tiers=[("deepseek", "deepseek-v4-pro@2026-06/100-5"), ("gpt-oss", defaults.TIER)],
        hardware=["b200", "h100-sxm"],
        sim_models=["gpt-oss-120b", "llama-3.3-70b"],
        trajectories=["trajectories/quick"],
    )
    no_tier_yet = RunConfig(mode="fixed").model_copy(update={"mode": "search"})  # as `console` prefills
    app = make_app(no_tier_yet, engine_factory=EngineBox(), prober=fixed_report, choices=choices)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        await pilot.pause()
        assert screen.query_one("#tier", Select).value == defaults.TIER
        plan = static_text(screen.query_one("#plan", Static))
        assert f"{defaults.SIM_MODEL} on {defaults.SIM_HARDWARE}" in plan
        hardware = screen.query_one("#hardware", Select)
        assert f"default: {defaults.SIM_HARDWARE}" in str(hardware._options[0][0])
        assert f"default: {defaults.SIM_MODEL}" in str(screen.query_one("#sim-model", Select)._options[0][0])
        # for a real server, "default" hardware is no profile at all, and the form says what that costs
        screen.query_one("#endpoint-kind", Select).value = "url"
        screen.query_one("#endpoint", Input).value = "http://gpu-node:8000"
        await pilot.pause()
        assert "none (GPU count from GPUs)" in str(hardware._options[0][0])
        assert "GPU count unknown: agents per GPU will be missing" in static_text(
            screen.query_one("#plan", Static)
        )
        screen.query_one("#gpu-count", Input).value = "8"
        await pilot.pause()
        assert "GPU count unknown" not in static_text(screen.query_one("#plan", Static))


async def test_enter_in_an_empty_number_box_is_not_an_error() -> None:
    app, _ = console(RunConfig(endpoint="http://gpu:8000", model="m", mode="fixed"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        box = screen.query_one("#gpu-count", Input)
        box.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert not box.has_class("-invalid")
        assert screen.collect().gpu_count is None


async def test_the_endpoint_check_goes_stale_when_its_settings_change_or_a_run_ends() -> None:
    app, _ = console(step_s=0.002)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        await pilot.press("f2")
        await wait_for(pilot, lambda: screen.report is not None)
        assert screen.stale is None
        assert "STALE" not in static_text(screen.query_one("#check-result", Static))
        screen.query_one("#sim-model", Select).value = "gpt-oss-120b"
        await pilot.pause()
        assert screen.stale is not None
        check = static_text(screen.query_one("#check-result", Static))
        assert "STALE: the endpoint settings changed since" in check
        # checked again: fresh; then a run goes by and it is stale again
        await pilot.press("f2")
        await wait_for(pilot, lambda: screen.stale is None)
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen), timeout=20)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen))
        assert "STALE: a run has ended since" in static_text(screen.query_one("#check-result", Static))


async def test_a_prompt_leaves_the_dashboard_in_view() -> None:
    app, box = console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        box.last.play(230)
        await pilot.pause(0.3)
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        dash.redraw(all_at_once=True)
        await pilot.pause()
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        shot = screen_text(app)
        assert "Annotate the run" in shot
        assert "SIMULATED ENDPOINT" in shot and "Concurrency search" in shot, "the run stays in view"


async def test_event_lines_wrap_and_wrap_again_when_zoomed() -> None:
    app, _ = console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        log = dash.query_one(EventLog)
        words = " ".join(f"word{i}" for i in range(40))
        dash.take_event(Event(12.0, "warn", words))
        await pilot.pause()
        narrow = [strip.text for strip in log.lines]
        assert "word39" in " ".join(narrow), "the whole event is there, wrapped, not cut"
        assert max(len(t.rstrip()) for t in narrow) <= log.size.width
        log.focus()
        await pilot.press("z")
        await pilot.pause(0.2)
        zoomed = [strip.text for strip in log.lines]
        assert len(zoomed) < len(narrow), "zoomed, the same event takes fewer, wider lines"
        assert "word39" in " ".join(zoomed)


async def test_stored_runs_and_compare_are_whole_at_80x24(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite3"
    a, _ = two_runs(store)
    app, _box = console(RunConfig(store=str(store), mode="fixed"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.runs) == 2)
        runs = app.screen
        table = runs.query_one(DataTable)
        assert sum(col.get_render_width(table) for col in table.columns.values()) <= 78
        shot = screen_text(app)
        for shown in ("finished", "sim-deepseek", "max-num-seqs 256", "N*=48", a):
            assert shown in shot, f"{shown!r} is in view at 80x24"
        await pilot.press("space", "down", "space", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and bool(app.screen.differences))
        compare = app.screen
        table = compare.query_one(DataTable)
        assert sum(col.get_render_width(table) for col in table.columns.values()) <= 78
        assert table.size.height >= 15, "most of the comparison at once, not six rows"
        shot = screen_text(app)
        assert "B − A" in shot and "-12 (-20%)" in shot
        assert "+0" not in shot, "no difference is shown as +0"
