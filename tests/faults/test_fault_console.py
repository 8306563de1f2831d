"""The console (Pilot) with its real engine process against a server that stalls: the agents panel
counts the stalled requests, the event log says what a stall is, and the run's books balance."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.tui.app import make_app
from agentperf_tui.tui.screens.dashboard import DashboardScreen, EventLog
from agentperf_tui.tui.screens.result import ResultScreen
from agentperf_tui.tui.widgets.agents import AgentsPanel

from .conftest import StartFaultServer
from .fault_modes import Fault
from .tool_runs import integrity, stored_run

pytestmark = pytest.mark.slow


async def _until(pilot: Pilot[Any], cond: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"gave up waiting {timeout} s for {what}")
        await pilot.pause(0.05)
    await pilot.pause()


async def test_the_console_counts_stalled_requests_and_logs_the_stall(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    server = start_fault_server(Fault(mode="stall_before_first", fraction=0.5, spare_preflight=True),
                                tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    config = RunConfig(
        endpoint=server.url, mode="fixed", concurrency=4, duration_s=60.0, tier="10/2", warmup_s=0.0,
        fast_min_s=1.0, stall_timeout_s=0.5, trajectories=str(trajectory_set), store=str(store),
        telemetry="none", scrape_server_metrics=False, gpu_count=1,
    )  # fmt: skip
    app = make_app(config, autostart=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await _until(pilot, lambda: isinstance(app.screen, DashboardScreen), 30, "the dashboard")
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        await _until(pilot, lambda: dash.latest is not None and dash.latest.requests_stalled >= 3, 60,
                     "three stalled requests")
        await pilot.pause(0.5)  # a redraw with them
        agents = dash.query_one(AgentsPanel)
        legend = agents.render()
        shown = re.search(r"✗ (\d+) stalled or timed out so far", getattr(legend, "plain", str(legend)))
        assert shown is not None, legend
        latest = dash.latest
        assert latest is not None
        assert 3 <= int(shown.group(1)) <= latest.requests_stalled <= latest.requests_failed
        said = [e.message for e in dash.query_one(EventLog).events]
        told = [m for m in said if "stalled: no data for 0.5 s before the first output" in m]
        assert len(told) == 1 and "counted against the SLO" in told[0]
        assert any("a request fails as stalled after 0.5 s without output" in m for m in said)
        await pilot.press("ctrl+c")
        await _until(pilot, lambda: isinstance(app.screen, ResultScreen), 30, "the result")
        summary = app.summary
        assert summary is not None and summary.status == "aborted"
    assert integrity(store) == "ok"
    stored = stored_run(store)
    assert stored.failures["stalled"] == summary.requests.by_kind["stalled"] >= 3
    own = server.wait_settled().excluding_preflight()
    assert own.seen == stored.rows and own.completed == stored.ok
