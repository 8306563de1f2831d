"""Write screenshots/*.svg of every console screen from real runs against the embedded simulator.

    python -m agentperf_tui.tui.screenshots [--out screenshots] [--tier gpt-oss-120b@rev1/250-3]
                                            [--family gpt-oss-120b@rev1]

Runs the console headless (the same `make_app` as the CLI) on the defaults a first run gets (the
embedded simulator's default deployment and tier): setup with the endpoint checked, the dashboard
in the middle of a concurrency search (at 80x24 and 160x48), the result, a second, fixed-N run,
the stored-runs list and the comparison of the two (each at 160x48 and 80x24). Then a search
against every tier of the default model's family, chosen on the setup screen (`*-tiers*`, at
120x40 and 80x24): the setup, the dashboard with every tier's bracket, the result with its
per-tier table and chart, and its comparison with the first search. Takes half an hour or so:
the simulator serves in real time, and a family's search runs until its slowest tier is found.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Select

from agentperf_tui.core import defaults
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.tui.app import AgentPerfApp, make_app
from agentperf_tui.tui.screens.compare import CompareScreen
from agentperf_tui.tui.screens.dashboard import DashboardScreen
from agentperf_tui.tui.screens.prompt import PromptScreen
from agentperf_tui.tui.screens.result import ResultScreen
from agentperf_tui.tui.screens.runs import RunsScreen
from agentperf_tui.tui.screens.setup import SetupScreen

WIDE = (160, 48)
MEDIUM = (120, 40)
NARROW = (80, 24)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def until(pilot: Pilot[Any], cond: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        await pilot.pause(0.25)
    await pilot.pause(0.5)


def save(app: AgentPerfApp, out: Path, name: str) -> None:
    path = app.save_screenshot(filename=f"{name}.svg", path=str(out))
    log(f"wrote {path}")


def brackets_started(app: AgentPerfApp) -> int:
    """Tiers of the live search whose bracket has an end (a level passed or failed them)."""
    dash = app.dashboard
    snap = dash.latest if dash is not None else None
    if snap is None or snap.search is None:
        return 0
    return sum(1 for b in snap.search.tiers if b.best_pass is not None or b.lowest_fail is not None)


async def both_sizes(pilot: Pilot[Any], app: AgentPerfApp, out: Path, name: str) -> None:
    """`name` at 120x40, then `name`-80x24; the terminal is left at 120x40."""
    await pilot.resize_terminal(*MEDIUM)
    await pilot.pause(0.5)
    save(app, out, name)
    await pilot.resize_terminal(*NARROW)
    await pilot.pause(0.5)
    save(app, out, f"{name}-80x24")
    await pilot.resize_terminal(*MEDIUM)


def levels_done(app: AgentPerfApp) -> int:
    dash = app.dashboard
    snap = dash.latest if dash is not None else None
    if snap is None or snap.search is None:
        return 0
    return sum(1 for lv in snap.search.levels if lv.verdict != "undecided")


async def shoot(
    config: RunConfig, second: RunConfig, family: str, out: Path, mid_levels: int, timeout: float
) -> None:
    app = make_app(config)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.resize_terminal(*NARROW)
        await pilot.pause()
        await pilot.press("f2")
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        await until(pilot, lambda: screen.report is not None, 120, "the endpoint check")
        save(app, out, "setup")

        log("starting the search")
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), 30, "the dashboard")
        await until(pilot, lambda: levels_done(app) >= 1, timeout, "the first level")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen), 10, "the note prompt")
        await pilot.press(*"max-num-seqs 256", "enter")
        await until(pilot, lambda: levels_done(app) >= mid_levels, timeout, f"{mid_levels} settled levels")
        save(app, out, "dashboard-80x24")
        await pilot.resize_terminal(*WIDE)
        await pilot.pause(1.0)
        save(app, out, "dashboard")

        await until(pilot, lambda: isinstance(app.screen, ResultScreen), timeout, "the search result")
        save(app, out, "result")
        await pilot.resize_terminal(*NARROW)
        await pilot.pause(0.5)
        save(app, out, "result-80x24")
        await pilot.resize_terminal(*WIDE)

        log("second run for the comparison")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, SetupScreen), 10, "setup")
        app.start_run(second)
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), 30, "the dashboard")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen), 10, "the note prompt")
        await pilot.press(*"max-num-seqs 128, fixed N", "enter")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen), timeout, "the second result")

        await pilot.press("r")
        await until(
            pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.runs) >= 2, 30, "runs"
        )
        save(app, out, "runs")
        await pilot.resize_terminal(*NARROW)
        await pilot.pause(0.5)
        save(app, out, "runs-80x24")
        await pilot.resize_terminal(*WIDE)
        await pilot.press("space", "down", "space", "c")
        await until(
            pilot,
            lambda: isinstance(app.screen, CompareScreen) and bool(app.screen.differences),
            60,
            "compare",
        )
        save(app, out, "compare")
        await pilot.resize_terminal(*NARROW)
        await pilot.pause(0.5)
        save(app, out, "compare-80x24")

        log(f"a search against every tier of {family}")
        await pilot.resize_terminal(*MEDIUM)
        app.action_new_run()
        await until(pilot, lambda: isinstance(app.screen, SetupScreen), 10, "setup")
        setup = app.screen
        assert isinstance(setup, SetupScreen)
        setup.query_one("#tier", Select).value = family
        await both_sizes(pilot, app, out, "setup-tiers")
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), 30, "the dashboard")
        await until(
            pilot,
            lambda: levels_done(app) >= mid_levels + 1 and brackets_started(app) >= 2,
            timeout,
            "several tiers bracketed",
        )
        await both_sizes(pilot, app, out, "dashboard-tiers")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen), timeout * 2, "the family's result")
        await both_sizes(pilot, app, out, "result-tiers")
        await pilot.press("r")
        await until(
            pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.runs) >= 3, 30, "runs"
        )
        await pilot.press("space", "down", "down", "space", "c")  # the family's run and the first search
        await until(
            pilot,
            lambda: isinstance(app.screen, CompareScreen) and bool(app.screen.differences),
            60,
            "compare",
        )
        await both_sizes(pilot, app, out, "compare-tiers")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m agentperf_tui.tui.screenshots", description=__doc__.split("\n")[0]
    )
    p.add_argument("--out", type=Path, default=Path("screenshots"))
    p.add_argument("--tier", default=defaults.TIER, help="SLO tier of the search (S/T or a profile name)")
    p.add_argument(
        "--family", default=defaults.TIER.rpartition("/")[0],
        help="the tier family of the last search (every tier of it, chosen on the setup screen)",
    )  # fmt: skip
    p.add_argument("--warmup", type=float, default=5.0, help="seconds a level holds before requests count")
    p.add_argument("--mid-levels", type=int, default=2, help="settled levels before the mid-search shot")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for each stage")
    p.add_argument("--store", type=Path, help="run store (default: a fresh temporary one)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    store = args.store or Path(tempfile.mkdtemp(prefix="agentperf-shots-")) / "runs.sqlite3"
    common: dict[str, Any] = {"store": str(store), "warmup_s": args.warmup}
    search = RunConfig(mode="search", tier=args.tier, rigour="fast", concurrency=4, **common)
    fixed = RunConfig(mode="fixed", tier=args.tier, concurrency=8, duration_s=45.0, **common)
    log(f"store {store}")
    asyncio.run(shoot(search, fixed, args.family, args.out, args.mid_levels, args.timeout))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
