"""Dashboard panels: drawn once per snapshot at their size, repainted only when what they show
changed, drawn again at a new size, their labels in place from the first paint."""

from __future__ import annotations

import pytest

from agentperf_tui.tui.screens.dashboard import DashboardScreen
from agentperf_tui.tui.widgets.panel import Panel

from .test_flows import Console, dashboard_playing, wait_for


def text_of(panel: Panel) -> str:
    return "\n".join(panel.render_line(y).text for y in range(panel.content_size.height))


async def test_a_panel_repaints_only_when_what_it_shows_changed(
    make_console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        box.last.play(60)
        await wait_for(pilot, lambda: dash.latest is not None and dash.latest.t == 30.0)
        dash.redraw(all_at_once=True)
        await pilot.pause()
        server = dash.query_one("#server", Panel)
        agents = dash.query_one("#agents", Panel)
        assert "running requests" in text_of(server)
        before = text_of(agents)

        repaints: list[str] = []
        for panel in (server, agents):
            monkeypatch.setattr(panel, "refresh", lambda *a, _id=panel.id, **k: repaints.append(str(_id)))
        latest = dash.latest
        server.show(latest, dash.history)  # the same snapshot again: nothing new to paint
        agents.show(latest, dash.history)
        assert repaints == []
        box.last.play(1)  # the agents chart moves on
        await wait_for(pilot, lambda: dash.latest is not latest)
        agents.show(dash.latest, dash.history)
        assert repaints == ["agents"] and text_of(agents) != before


async def test_panels_draw_again_at_a_new_size(make_console: Console) -> None:
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(160, 48)) as pilot:
        dash = await dashboard_playing(pilot, app, box, 60)
        dash.redraw(all_at_once=True)
        await pilot.pause()
        ttft = dash.query_one("#ttft", Panel)
        wide = ttft.content_size
        assert ttft.render_line(0).cell_length == wide.width
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        narrow = ttft.content_size
        assert narrow.width < wide.width
        lines = [ttft.render_line(y) for y in range(narrow.height)]
        assert all(line.cell_length == narrow.width for line in lines)
        assert "p95" in lines[0].text


async def test_panel_labels_are_drawn_with_the_first_paint(make_console: Console) -> None:
    app, box = make_console(autostart=True, autoplay=False)
    async with app.run_test(size=(160, 48)) as pilot:
        dash = await dashboard_playing(pilot, app, box, 60)
        dash.redraw(all_at_once=True)
        await pilot.pause()
        screen_text = "\n".join(strip.text for strip in dash._compositor.render_strips())
        assert "GPU power · SIMULATED" in screen_text
        assert dash.latest is not None and f"N target {dash.latest.target_n}" in screen_text
