"""Distribution of per-request output speed in the window, its P25, and the tier's floor (each
tier's, when the run has several)."""

from __future__ import annotations

import math

from rich.console import RenderableType
from rich.text import Text

from agentperf_tui.core import fmt
from agentperf_tui.core.views import Snapshot
from agentperf_tui.tui import palette
from agentperf_tui.tui.charts import histogram
from agentperf_tui.tui.history import History
from agentperf_tui.tui.widgets.panel import Panel, stack
from agentperf_tui.tui.widgets.tier_marks import several, tier_checks


class SpeedPanel(Panel):
    def __init__(self, *, id: str | None = "speed") -> None:
        super().__init__("Output speed per request", id=id)

    def draw(self, snap: Snapshot, history: History, width: int, height: int) -> RenderableType:
        floor = snap.search.speed_floor if snap.search is not None else math.nan
        tiers = snap.search.tiers if snap.search is not None and several(snap.search) else ()
        self.set_subtitle("tok/s · ◆ P25 · ▲ each tier's floor" if tiers else "tok/s · ◆ P25 · ▲ floor")
        legend = Text(no_wrap=True, overflow="ellipsis")
        shown_floor = floor if math.isfinite(floor) else None
        legend.append("P25 ", style="bold").append(fmt.speed(snap.speed_p25, floor=shown_floor), style="bold")
        if tiers:
            legend.append("  ").append_text(tier_checks(snap.speed_p25, tiers, speed=True))
        elif math.isfinite(floor):
            if not math.isnan(snap.speed_p25):
                ok = snap.speed_p25 >= floor
                legend.append(" ✓" if ok else " ✗", style=palette.PASS if ok else palette.FAIL)
            legend.append(" floor ", style=palette.LIMIT).append(fmt.speed(floor), style=palette.LIMIT)
        legend.append("  P50 ", style="dim").append(fmt.speed(snap.speed_p50))
        if height < 3:
            return legend
        chart = histogram(
            snap.speed_hist,
            snap.speed_hist_edges,
            width,
            height - 1,
            floor=floor if math.isfinite(floor) else None,
            marker=snap.speed_p25 if math.isfinite(snap.speed_p25) else None,
            good=palette.STREAMING,
            bad=palette.LIMIT,
            floors=[(b.speed_floor, palette.tier_color(k)) for k, b in enumerate(tiers)],
        )
        return stack(legend, chart)
