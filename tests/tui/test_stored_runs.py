"""Stored runs in a real SQLite store: list with annotations, open, compare, export, report."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Input

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.report.html import render_report
from agentperf_tui.core.store import load_run
from agentperf_tui.tui.app import AgentPerfApp
from agentperf_tui.tui.screens.compare import CompareScreen
from agentperf_tui.tui.screens.prompt import PromptScreen
from agentperf_tui.tui.screens.result import ResultScreen
from agentperf_tui.tui.screens.runs import RunsScreen

from .conftest import write_run
from .fakes import SearchScript
from .test_flows import wait_for

Console = Callable[..., tuple[AgentPerfApp, Any]]


def two_runs(store: Path) -> tuple[str, str]:
    script = SearchScript()
    a = write_run(store, script, note="max-num-seqs 256")
    b = write_run(store, script, note="max-num-seqs 512", n_scale=1.25)
    return a, b


async def test_runs_list_open_compare_export(make_console: Console, tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite3"
    a, b = two_runs(store)
    app, _ = make_console(RunConfig(store=str(store), mode="fixed"))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.runs) == 2)
        runs = app.screen
        assert isinstance(runs, RunsScreen)
        table = runs.query_one(DataTable)
        assert table.row_count == 2
        cells = " ".join(str(c) for row in range(2) for c in table.get_row_at(row))
        assert "max-num-seqs 256" in cells and "max-num-seqs 512" in cells
        assert "N*=48" in cells and "N*=60" in cells

        # Open the highlighted (newest) run.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        result = app.screen
        assert isinstance(result, ResultScreen)
        assert result.summary.run_id == b and result.head.n_star == 60 and not result.live
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))

        # Mark both and compare.
        await pilot.press("space", "down", "space")
        assert runs.marked == [b, a]
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and bool(app.screen.differences))
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        by_field = {d.field: d for d in compare.differences}
        assert by_field["N*"].a == 60 and by_field["N*"].b == 48 and by_field["N*"].better == "a"
        assert "config.hardware" in by_field
        await pilot.press("d")
        shown = compare.query_one(DataTable).row_count
        assert shown == sum(1 for d in compare.differences if d.a != d.b)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))

        # Export the highlighted run: JSON, CSV and the HTML report.
        out = tmp_path / "export"
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        await wait_for(pilot, lambda: (out / "report.html").exists(), timeout=20)
        assert list(out.glob("*.json"))
        assert (out / "csv" / "requests.csv").exists()


async def test_annotate_a_stored_run(make_console: Console, tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite3"
    write_run(store, SearchScript(), note=None)
    app, _ = make_console(RunConfig(store=str(store), mode="fixed"))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.runs) == 1)
        runs = app.screen
        assert isinstance(runs, RunsScreen)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"driver 560", "enter")
        await wait_for(pilot, lambda: bool(runs.runs) and runs.runs[0].first_annotation == "driver 560")


async def test_empty_store_says_so(make_console: Console, tmp_path: Path) -> None:
    app, _ = make_console(RunConfig(store=str(tmp_path / "none.sqlite3"), mode="fixed"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.pause(0.3)
        hint = app.screen.query_one("#runs-hint")
        assert "No runs stored" in str(hint.render())


def test_html_report_is_self_contained(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite3"
    run_id = write_run(store, SearchScript(), note="max-num-seqs 256")
    html = render_report(load_run(store, run_id))
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["']https?://""", html), "nothing is fetched from the network"
    assert html.count("<svg") >= 5
    assert "SIMULATED ENDPOINT" in html
    assert "max-num-seqs 256" in html
    assert re.search(r'class="big">48<', html)
    assert "P95 TTFT per level" in html and "GPU power" in html
