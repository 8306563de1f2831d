"""The console's flows, driven with Pilot against the fake engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console as RichConsole
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.protocol import (
    Abort,
    Annotate,
    Pause,
    RepeatLevel,
    Resume,
    SetConcurrency,
    SkipLevel,
)
from agentperf_tui.core.summary.headline import summary_notes
from agentperf_tui.tui.app import AgentPerfApp
from agentperf_tui.tui.screens import dashboard as dashboard_module
from agentperf_tui.tui.screens.dashboard import DashboardScreen
from agentperf_tui.tui.screens.help import HelpScreen
from agentperf_tui.tui.screens.prompt import ConfirmScreen, PromptScreen
from agentperf_tui.tui.screens.result import ResultScreen
from agentperf_tui.tui.screens.setup import FormError, SetupScreen
from agentperf_tui.tui.widgets.panel import Panel
from agentperf_tui.tui.widgets.status import RunStatus

from .fakes import FakeEngine

Console = Callable[..., tuple[AgentPerfApp, Any]]


async def wait_for(pilot: Pilot[Any], cond: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)
    await pilot.pause()  # let the screen that satisfied it finish mounting


async def dashboard_playing(
    pilot: Pilot[Any], app: AgentPerfApp, box: Any, snapshots: int
) -> DashboardScreen:
    """The dashboard once it is up and the fake engine has played `snapshots` snapshots to it."""
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
    dash = app.screen
    assert isinstance(dash, DashboardScreen)
    box.last.play(snapshots)
    await pilot.pause(0.2)
    return dash


def static_text(widget: Static) -> str:
    """What a Static shows, as plain text (Rich renderables rendered at a generous width)."""
    console = RichConsole(width=200, color_system=None)
    with console.capture() as cap:
        console.print(widget.content)
    return cap.get()


async def test_setup_start_run_result(make_console: Console) -> None:
    app, box = make_console(step_s=0.002)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, SetupScreen)
        await pilot.press("f5")
        await wait_for(pilot, lambda: bool(box.engines))
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen), timeout=20)
        result = app.screen
        assert isinstance(result, ResultScreen)
        assert result.head.n_star == 48
        assert result.head.agents_per_gpu == 12.0
        bound = result.head.bound_by()
        assert bound is not None and "P95 TTFT" in bound
        assert result.summary.simulated
        headline = static_text(result.query_one("#headline", Static))
        assert "12.00" in headline and "simulated power model" in headline
        # The dashboard underneath saw the run go by and is now finished.
        dash = app.dashboard
        assert dash is not None and dash.finished
        assert len(dash.history) > 10
        assert box.last.started


async def test_live_controls_reach_the_engine(make_console: Console) -> None:
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        engine: FakeEngine = box.last
        engine.play(120)
        await pilot.pause(0.4)
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        assert dash.latest is engine.script.snapshots[119]
        await pilot.press("space")
        # pausing restarts the level: the prompt says so before anything happens
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        said = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "starts over" in said and "discarded" in said
        assert engine.commands == []
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("s", "r")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one(Input).value = ""
        await pilot.press(*"12", "enter")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"max-num-seqs 256", "enter")
        await pilot.pause()
        assert engine.commands == [
            Pause(),
            SkipLevel(),
            RepeatLevel(),
            SetConcurrency(12),
            Annotate("max-num-seqs 256"),
        ]
        engine.play(2)
        await pilot.pause(0.4)
        await pilot.press("space")
        assert engine.commands[-1] == Resume()


async def test_set_n_rejects_nonsense(make_console: Console) -> None:
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one(Input).value = "0"
        await pilot.press("enter")
        await pilot.pause()
        assert not [c for c in box.last.commands if isinstance(c, SetConcurrency)]


async def test_escape_twice_aborts(make_console: Console) -> None:
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        box.last.play(50)
        await pilot.press("escape")
        await pilot.pause()
        assert not any(isinstance(c, Abort) for c in box.last.commands)
        assert "ABORT?" in str(app.screen.query_one("#status", RunStatus).render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        assert any(isinstance(c, Abort) for c in box.last.commands)
        result = app.screen
        assert isinstance(result, ResultScreen)
        assert result.summary.status == "aborted"
        assert any("aborted" in n for n in summary_notes(result.summary))


async def test_escape_then_wait_does_not_abort(
    make_console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_module, "ABORT_ARM_S", 0.05)
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("escape")
        await pilot.pause(0.2)
        await pilot.press("escape")
        await pilot.pause()
        assert not any(isinstance(c, Abort) for c in box.last.commands)
        assert isinstance(app.screen, DashboardScreen)


async def test_ctrl_c_aborts(make_console: Console) -> None:
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        assert any(isinstance(c, Abort) for c in box.last.commands)


async def test_help_lists_every_dashboard_key(make_console: Console) -> None:
    app, _ = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = static_text(app.screen.query_one(Static))
        flowing = " ".join(text.split())  # long descriptions wrap onto indented lines
        for binding in DashboardScreen.BINDINGS:
            assert (binding.tooltip or binding.description) in flowing  # type: ignore[union-attr]
        for key in ("Esc Esc", "Ctrl+C", "Space", "F5", "F2"):
            assert key in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_dashboard_draws_every_panel(make_console: Console, size: tuple[int, int]) -> None:
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        box.last.play(200)
        await pilot.pause(0.4)
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        dash.redraw()
        # the panels are painted one after another, all within one redraw period
        await wait_for(pilot, lambda: all(p.snap is dash.latest for p in dash.query(Panel)), timeout=0.3 * 3)
        for panel in dash.query(Panel):
            text = str(panel.render())
            assert "waiting for the first snapshot" not in text
        power = dash.query_one("#power", Panel)
        assert "SIMULATED" in str(power.border_title)
        status = str(dash.query_one("#status", RunStatus).render())
        assert "SIMULATED ENDPOINT" in status and "N* in [32, 64)" in status


async def test_setup_form_builds_the_run_config(make_console: Console) -> None:
    app, _ = make_console(RunConfig(mode="fixed", concurrency=4))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        screen.query_one("#endpoint-kind", Select).value = "url"
        screen.query_one("#endpoint", Input).value = "http://10.0.0.5:8000/v1"
        screen.query_one("#model", Input).value = "deepseek-v4-pro"
        screen.query_one("#api-key-env", Input).value = "MY_KEY"
        screen.query_one("#tier", Select).value = "deepseek-v4-pro@rev1/60-5"
        screen.query_one("#mode", Select).value = "search"
        screen.query_one("#concurrency", Input).value = "16"
        screen.query_one("#budget-s", Input).value = "10m"
        screen.query_one("#rigour", Select).value = "strict"
        screen.query_one("#telemetry", Select).value = "dcgm"
        screen.query_one("#telemetry-arg", Input).value = "http://node1:9400/metrics"
        await pilot.pause()
        cfg = screen.collect()
        assert cfg.endpoint == "http://10.0.0.5:8000"
        assert (cfg.model, cfg.api_key_env) == ("deepseek-v4-pro", "MY_KEY")
        assert cfg.tier == "deepseek-v4-pro@rev1/60-5"
        assert (cfg.mode, cfg.concurrency, cfg.rigour) == ("search", 16, "strict")
        assert cfg.budget_s == 600.0 and not screen.query_one("#row-budget-s").disabled
        assert "within 10m00s" in static_text(screen.query_one("#plan", Static))
        assert cfg.telemetry == "dcgm:http://node1:9400/metrics"
        assert not screen.query_one("#row-endpoint").disabled
        assert screen.query_one("#row-sim-model").disabled


async def test_setup_refuses_a_bad_form(make_console: Console) -> None:
    app, box = make_console()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        screen.query_one("#mode", Select).value = "search"
        screen.query_one("#budget-s", Input).value = "soon"
        await pilot.pause()
        with pytest.raises(FormError) as info:
            screen.collect()
        assert any("Budget: 'soon' is not a duration" in p for p in info.value.problems)
        screen.query_one("#budget-s", Input).value = ""
        screen.query_one("#mode", Select).value = "sweep"
        screen.query_one("#endpoint-kind", Select).value = "url"
        await pilot.pause()
        await pilot.press("f5")
        await pilot.pause()
        assert not box.engines
        assert isinstance(app.screen, SetupScreen)
        plan = static_text(screen.query_one("#plan", Static))
        assert "Sweep N" in plan and "URL" in plan


async def test_prefill_from_flags_shows_the_tier_and_endpoint(make_console: Console) -> None:
    cfg = RunConfig(endpoint="http://gpu-node:8000", model="m", mode="search", tier="60/5", concurrency=32)
    app, _ = make_console(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        await pilot.pause()
        assert screen.query_one("#endpoint-kind", Select).value == "url"
        assert screen.query_one("#endpoint", Input).value == "http://gpu-node:8000"
        assert screen.query_one("#tier-custom", Input).value == "60/5"
        assert screen.collect().concurrency == 32


async def test_check_runs_the_probe_off_the_ui_loop(make_console: Console) -> None:
    app, _ = make_console()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        await wait_for(pilot, lambda: screen.report is not None)
        await pilot.pause()
        shown = static_text(screen.query_one("#check-result", Static))
        assert "ignore_eos honoured" in shown and "131,072" in shown


class BrokenEngine(FakeEngine):
    def start(self) -> None:
        raise RuntimeError("cannot reach the simulator")


async def test_engine_failure_keeps_the_console_open(make_console: Console) -> None:
    app, box = make_console()

    def factory(config: RunConfig, observers: list[Any]) -> FakeEngine:
        engine = BrokenEngine(config, observers)
        box.engines.append(engine)
        return engine

    app.engine_factory = factory
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.dashboard is not None and app.dashboard.finished)
        assert app.is_running
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("ctrl+q")
