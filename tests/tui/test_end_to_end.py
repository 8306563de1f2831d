"""The console against the real engine and the embedded simulator (real HTTP on loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Digits, Static

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.store import list_runs
from agentperf_tui.tui.app import make_app
from agentperf_tui.tui.screens.dashboard import DashboardScreen
from agentperf_tui.tui.screens.prompt import PromptScreen
from agentperf_tui.tui.screens.result import ResultScreen

from .conftest import CHOICES, fixed_report
from .test_flows import wait_for


@pytest.mark.slow
async def test_fixed_run_against_the_embedded_simulator(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite3"
    cfg = RunConfig(
        mode="fixed",
        concurrency=2,
        duration_s=8.0,
        warmup_s=1.0,
        tier="5/30",
        model="sim-llama-3.3-70b",
        store=str(store),
    )
    app = make_app(cfg, prober=fixed_report, choices=CHOICES)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), timeout=30)
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        await wait_for(pilot, lambda: dash.latest is not None and dash.latest.requests_ok > 0, timeout=60)
        assert dash.latest is not None and dash.latest.simulated_endpoint
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), timeout=10)
        await pilot.press(*"e2e note", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen), timeout=90)
        result = app.screen
        assert isinstance(result, ResultScreen)
        assert result.summary.simulated and result.summary.status == "finished"
        assert result.summary.run_id is not None
        # a fixed run shows the N it held and whether the tier held there, decided on what was
        # measured when its duration ran out (8 s: too short to settle)
        held = result.head.level
        assert held is not None and held.n == 2 and held.verdict in ("pass", "fail")
        assert result.head.n_star == (2 if held.verdict == "pass" else None)
        last = result.summary.levels[-1]
        assert last.phase == "settled" and last.mean_power_w is not None and last.mean_power_w > 0
        assert result.query_one("#nstar", Digits).value == "2"
        assert "fixed run" in str(result.query_one("#nstar-caption", Static).render())
        assert len(dash.history) >= 5
    runs = list_runs(store)
    assert [r.id for r in runs] == [result.summary.run_id]
    assert runs[0].first_annotation == "e2e note"
