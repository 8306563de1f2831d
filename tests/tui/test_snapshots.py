"""Screenshots compared with accepted ones (pytest-textual-snapshot), on fake data and time:
the fake engine's scripted search, fixed choices and endpoint check, no wall clock on screen.
Update after a deliberate change: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.tui.app import AgentPerfApp
from agentperf_tui.tui.screens.dashboard import DashboardScreen
from agentperf_tui.tui.screens.result import ResultScreen

from .conftest import console
from .fakes import FAMILY_SPEC, family_script
from .test_flows import wait_for

MID_SEARCH = 230
"""Snapshots into the script: N=56 being measured, N* bracketed in [48, 64)."""


def live(snapshots: int) -> tuple[AgentPerfApp, Callable[[Pilot[Any]], Any]]:
    app, box = console(autostart=True, autoplay=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        box.last.play(snapshots)
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        screen.redraw(all_at_once=True)
        await pilot.pause()

    return app, run_before


def test_setup_80x24(snap_compare: Any) -> None:
    app, _ = console()
    assert snap_compare(app, terminal_size=(80, 24))


def test_dashboard_mid_search_80x24(snap_compare: Any) -> None:
    app, run_before = live(MID_SEARCH)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_dashboard_mid_search_160x48(snap_compare: Any) -> None:
    app, run_before = live(MID_SEARCH)
    assert snap_compare(app, terminal_size=(160, 48), run_before=run_before)


def test_result_80x24(snap_compare: Any) -> None:
    app, box = console(autostart=True, autoplay=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        box.last.play(10_000)
        box.last.finish()
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help_80x24(snap_compare: Any) -> None:
    app, run_before = live(20)

    async def with_help(pilot: Pilot[Any]) -> None:
        await run_before(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=with_help)


def family(snapshots: int | None) -> tuple[AgentPerfApp, Callable[[Pilot[Any]], Any]]:
    """A search against a family of three tiers: mid-search (`snapshots` into the script), or
    at its result (None)."""
    cfg = RunConfig(mode="search", tier=FAMILY_SPEC, concurrency=8)
    app, box = console(cfg, autostart=True, autoplay=False, script=family_script())

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        if snapshots is None:
            box.last.play(10_000)
            box.last.finish()
            await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
            return
        box.last.play(snapshots)
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        screen.redraw(all_at_once=True)
        await pilot.pause()

    return app, run_before


def test_dashboard_with_three_tiers_80x24(snap_compare: Any) -> None:
    app, run_before = family(MID_SEARCH)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_result_with_three_tiers_80x24(snap_compare: Any) -> None:
    app, run_before = family(None)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
