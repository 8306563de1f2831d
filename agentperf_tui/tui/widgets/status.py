"""The two lines at the top of the dashboard: what is running, and whether it holds the tier."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widget import Widget

from agentperf_tui.core import fmt
from agentperf_tui.core.tiers import tiers_label
from agentperf_tui.core.views import Snapshot
from agentperf_tui.tui import palette
from agentperf_tui.tui.widgets.panel import stack
from agentperf_tui.tui.widgets.search import PHASES, bracket_text, judged, level_clock
from agentperf_tui.tui.widgets.tier_marks import several, tier_checks


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
    paused_at: float | None = None,
) -> Text:
    """`paused_at`: the run time the run was paused at; the clocks stop there while it is."""
    line1 = Text(no_wrap=True, overflow="ellipsis")
    if simulated:
        line1.append(" SIMULATED ENDPOINT ", style=palette.SIMULATED).append(" ")
    if snap is None:
        line1.append("starting the run…", style="dim")
        return line1
    now = paused_at if paused_at is not None and snap.paused else snap.t
    if snap.finished or finished:
        line1.append("FINISHED ", style="bold " + palette.PASS)
    elif aborting:
        line1.append("ABORT? press Escape again ", style="bold reverse " + palette.FAIL)
    elif snap.paused:
        line1.append("PAUSED ", style="bold reverse " + palette.WARN)
    else:
        line1.append("RUNNING ", style="bold " + palette.STREAMING)
    line1.append(f"{fmt.duration(now)}  ", style="dim")
    if snap.paused and paused_at is not None:
        held = fmt.duration(snap.t - paused_at)
        line1.append(f"(paused {held}; the level restarts on resume)  ", style="dim")
    search = snap.search
    if search is not None:
        tier = f"tier {search.tier}" if judged(search) else "no tier"
        if several(search):
            tier = f"tiers {tiers_label([b.tier for b in search.tiers])}"
        line1.append(f"{search.mode} · {search.rigour} · {tier}  ", style="dim")
    line1.append(f"run {run_id or snap.run_id}", style="dim")

    line2 = Text(no_wrap=True, overflow="ellipsis")
    level = snap.level
    line2.append(f"N {snap.agents}", style="bold")
    if snap.agents != snap.target_n:
        line2.append(f"→{snap.target_n}", style=palette.WARN)
    if level is not None:
        phase = PHASES.get(level.phase, level.phase)
        line2.append(f" {phase} {fmt.duration(level_clock(level, now))}", style="dim")
    if search is not None and several(search):
        line2.append("  p95 TTFT ", style="dim").append(fmt.seconds(snap.ttft.p95), style="bold").append(" ")
        line2.append_text(tier_checks(snap.ttft.p95, search.tiers, speed=False))
        line2.append("  P25 ", style="dim").append(fmt.speed(snap.speed_p25, unit=False), style="bold")
        line2.append(" tok/s ", style="dim")
        line2.append_text(tier_checks(snap.speed_p25, search.tiers, speed=True))
        line2.append(f"  {bracket_text(search, snap.target_n)}", style="bold")
        if snap.power is not None and snap.power.total_w is not None:
            line2.append(f"  {fmt.watts(snap.power.total_w)}", style=palette.POWER)
        return stack(line1, line2)
    floor = search.speed_floor if search is not None and math.isfinite(search.speed_floor) else None
    limit = search.ttft_limit if search is not None and math.isfinite(search.ttft_limit) else None
    line2.append("  p95 TTFT ", style="dim").append(fmt.seconds(snap.ttft.p95, limit=limit), style="bold")
    ttft_ok = speed_ok = None
    if limit is not None:
        line2.append(f"/{fmt.limit_text(limit)} s", style="dim")
        if not math.isnan(snap.ttft.p95):
            ttft_ok = snap.ttft.p95 <= limit
    line2.append(*_check(ttft_ok))
    p25 = fmt.speed(snap.speed_p25, floor=floor, unit=False)
    line2.append("  P25 ", style="dim").append(p25, style="bold")
    line2.append(f"/{fmt.limit_text(floor)} tok/s" if floor is not None else " tok/s", style="dim")
    if floor is not None and not math.isnan(snap.speed_p25):
        speed_ok = snap.speed_p25 >= floor
    line2.append(*_check(speed_ok))
    if search is not None:
        line2.append(f"  {bracket_text(search, snap.target_n)}", style="bold")
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
