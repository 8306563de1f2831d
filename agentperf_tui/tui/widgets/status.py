"""The two lines at the top of the dashboard: what is running, and whether it holds the tier."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widget import Widget

from agentperf_tui.core.views import Snapshot
from agentperf_tui.tui import format as fmt
from agentperf_tui.tui import palette
from agentperf_tui.tui.widgets.panel import stack
from agentperf_tui.tui.widgets.search import bracket_text


def _check(ok: bool | None) -> tuple[str, str]:
    if ok is None:
        return ("", "")
    return (" ✓", palette.PASS) if ok else (" ✗", palette.FAIL)


def status_text(
    snap: Snapshot | None,
    *,
    simulated: bool,
    run_id: str | None,
    aborting: bool = False,
    finished: bool = False,
) -> Text:
    line1 = Text(no_wrap=True, overflow="ellipsis")
    if simulated:
        line1.append(" SIMULATED ENDPOINT ", style=palette.SIMULATED).append(" ")
    if snap is None:
        line1.append("starting the run…", style="dim")
        return line1
    if snap.finished or finished:
        line1.append("FINISHED ", style="bold " + palette.PASS)
    elif aborting:
        line1.append("ABORT? press Escape again ", style="bold reverse " + palette.FAIL)
    elif snap.paused:
        line1.append("PAUSED ", style="bold reverse " + palette.WARN)
    else:
        line1.append("RUNNING ", style="bold " + palette.STREAMING)
    line1.append(f"{fmt.duration(snap.t)}  ", style="dim")
    search = snap.search
    if search is not None:
        line1.append(f"{search.mode} · {search.rigour} · tier {search.tier}  ", style="dim")
    line1.append(f"run {run_id or snap.run_id}", style="dim")

    line2 = Text(no_wrap=True, overflow="ellipsis")
    level = snap.level
    line2.append(f"N {snap.agents}", style="bold")
    if snap.agents != snap.target_n:
        line2.append(f"→{snap.target_n}", style=palette.WARN)
    if level is not None:
        since = (
            level.measure_from if level.measure_from is not None and snap.t >= level.measure_from else None
        )
        line2.append(f" {level.phase} {fmt.duration(snap.t - (since or level.started_at))}", style="dim")
    line2.append("  p95 TTFT ", style="dim").append(fmt.seconds(snap.ttft.p95), style="bold")
    ttft_ok = speed_ok = None
    if search is not None:
        line2.append(f"/{search.ttft_limit:g} s", style="dim")
        if not math.isnan(snap.ttft.p95):
            ttft_ok = snap.ttft.p95 <= search.ttft_limit
    line2.append(*_check(ttft_ok))
    line2.append("  P25 ", style="dim").append(fmt.ratio(snap.speed_p25, 0), style="bold")
    line2.append(f"/{search.speed_floor:g} tok/s" if search is not None else " tok/s", style="dim")
    if search is not None and not math.isnan(snap.speed_p25):
        speed_ok = snap.speed_p25 >= search.speed_floor
    line2.append(*_check(speed_ok))
    if search is not None:
        line2.append(f"  {bracket_text(search)}", style="bold")
    if snap.power is not None and snap.power.total_w is not None:
        line2.append(f"  {fmt.watts(snap.power.total_w)}", style=palette.POWER)
    return stack(line1, line2)


class RunStatus(Widget):
    """Fixed at two lines, so a new status only repaints this widget: `Static.update` would
    re-lay out (and so repaint) the whole screen a few times a second."""

    DEFAULT_CSS = """
    RunStatus {
        height: 2;
        padding: 0 1;
        background: $boost;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text("")

    def update(self, text: Text) -> None:
        if text == self._text:
            return
        self._text = text
        self.refresh()

    def render(self) -> Text:
        return self._text
