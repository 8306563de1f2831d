"""What the console does while a screen covers the live dashboard: the dashboard stops drawing
and catches up on return, redraws rarely and in one frame under a dialog; footers and the help
screen are not rebuilt on every key."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from agentperf_tui.core.views import Snapshot
from agentperf_tui.tui.messages import EngineFailed
from agentperf_tui.tui.screens import dashboard as dashboard_module
from agentperf_tui.tui.screens.dashboard import DashboardScreen
from agentperf_tui.tui.screens.help import HelpScreen
from agentperf_tui.tui.screens.prompt import ConfirmScreen
from agentperf_tui.tui.widgets.keys_footer import KeysFooter
from agentperf_tui.tui.widgets.panel import Panel
from agentperf_tui.tui.widgets.status import RunStatus

from .test_flows import Console, dashboard_playing, wait_for


def footer_keys(screen: DashboardScreen) -> dict[str, bool]:
    """Description -> enabled, for every key the dashboard's footer shows."""
    keys = screen.query_one(KeysFooter).query("FooterKey")
    return {str(k.description): not k.disabled for k in keys}  # type: ignore[attr-defined]


def shows(dash: DashboardScreen, snap: Snapshot | None) -> bool:
    """Every panel of the dashboard is drawn from `snap`."""
    return snap is not None and all(p.snap is snap for p in dash.query(Panel))


async def test_hidden_dashboard_does_not_draw_and_catches_up_on_return(make_console: Console) -> None:
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        box.last.play(40)
        await wait_for(pilot, lambda: shows(dash, dash.latest))
        before = dash.latest
        status_before = str(dash.query_one(RunStatus).render())

        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert dash.covered() == "hidden"
        box.last.play(40)
        await pilot.pause(1.0)  # three redraw periods
        dash.redraw(all_at_once=True)
        assert dash.latest is not before  # it keeps taking snapshots...
        assert shows(dash, before)  # ...but draws none of them
        assert str(dash.query_one(RunStatus).render()) == status_before

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert dash.covered() is None
        await wait_for(pilot, lambda: shows(dash, dash.latest), timeout=0.3 * 3)
        assert str(dash.query_one(RunStatus).render()) != status_before


async def test_dimmed_dashboard_redraws_every_few_seconds_in_one_frame(
    make_console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(dashboard_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        snaps = box.last.script.snapshots
        box.last.play(20)
        await wait_for(pilot, lambda: shows(dash, snaps[19]))

        await pilot.press("space")  # the pause prompt dims the dashboard
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert dash.covered() == "dimmed"
        dash.redraw()  # nothing new since the prompt opened
        box.last.play(1)
        await wait_for(pilot, lambda: dash.latest is snaps[20])
        await pilot.pause(1.0)  # three redraw periods, none of them due
        assert shows(dash, snaps[19])
        now[0] += dashboard_module.DIMMED_REDRAW_S
        dash.redraw()  # due: every panel at once, not one after another
        assert shows(dash, snaps[20])


async def test_footer_is_not_rebuilt_for_a_screen_that_comes_back_unchanged(make_console: Console) -> None:
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        dash = await dashboard_playing(pilot, app, box, 5)
        keys: list[Widget] = list(dash.query_one(KeysFooter).query("FooterKey"))
        assert footer_keys(dash)["Pause"] and "Result" not in footer_keys(dash)
        for _ in range(2):
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause(0.2)
        assert list(dash.query_one(KeysFooter).query("FooterKey")) == keys


async def test_footer_shows_keys_that_changed_while_its_screen_was_covered(make_console: Console) -> None:
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        dash = await dashboard_playing(pilot, app, box, 5)
        assert footer_keys(dash)["Pause"]

        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        app.post_message(EngineFailed(RuntimeError("engine gone")))
        await wait_for(pilot, lambda: dash.finished)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause(0.2)
        keys = footer_keys(dash)
        assert "Pause" not in keys and "Set N" not in keys  # the run's controls are gone
        assert "Result" in keys and keys["Help"]


async def test_help_is_built_once_and_opens_at_the_top(make_console: Console) -> None:
    app, _ = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_screen = app.screen
        text = str(help_screen.query_one(Static).render())
        scroll = help_screen.query_one(VerticalScroll)
        scroll.scroll_end(animate=False)
        await pilot.pause()
        assert scroll.scroll_y > 0
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert app.screen is help_screen
        assert str(help_screen.query_one(Static).render()) == text
        await pilot.pause()
        assert scroll.scroll_y == 0
