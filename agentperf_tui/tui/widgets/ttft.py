"""TTFT p50/p95/p99 over time against the tier's limit (each tier's, named, when the run has
several), on a log scale: typical values of tens of milliseconds and a limit of seconds both
show."""

from __future__ import annotations

import math

from rich.console import RenderableType
from rich.text import Text

from agentperf_tui.core import fmt
from agentperf_tui.core.views import Snapshot
from agentperf_tui.tui import palette
from agentperf_tui.tui.charts import Line, Threshold, line_chart
from agentperf_tui.tui.history import History
from agentperf_tui.tui.widgets.panel import Panel, stack
from agentperf_tui.tui.widgets.tier_marks import several, short_name, tier_checks


def _axis(v: float) -> str:
    if v < 0.01:
        return f"{v * 1000:.1f}ms"
    return f"{v * 1000:.0f}ms" if v < 1 else f"{v:.3g}s"


class TtftPanel(Panel):
    def __init__(self, *, id: str | None = "ttft") -> None:
        super().__init__("Time to first token", id=id)

    def draw(self, snap: Snapshot, history: History, width: int, height: int) -> RenderableType:
        limit = snap.search.ttft_limit if snap.search is not None else math.nan
        self.set_subtitle(f"last {fmt.duration(snap.window_s)} · log scale")
        legend = Text(no_wrap=True, overflow="ellipsis")
        lim = limit if math.isfinite(limit) else None
        legend.append("p95 ", style=palette.P95).append(fmt.seconds(snap.ttft.p95, limit=lim), style="bold")
        tiers = snap.search.tiers if snap.search is not None and several(snap.search) else ()
        if tiers:
            legend.append("  ").append_text(tier_checks(snap.ttft.p95, tiers, speed=False))
        elif math.isfinite(limit):
            if not math.isnan(snap.ttft.p95):
                ok = snap.ttft.p95 <= limit
                legend.append(" ✓" if ok else " ✗", style=palette.PASS if ok else palette.FAIL)
            legend.append(" limit ", style=palette.LIMIT).append(fmt.seconds(limit), style=palette.LIMIT)
        legend.append("  p50 ", style=palette.P50).append(fmt.seconds(snap.ttft.p50))
        legend.append("  p99 ", style=palette.P99).append(fmt.seconds(snap.ttft.p99))
        if height < 3:
            return legend
        c = history.columns
        limits = [
            Threshold(b.ttft_limit, palette.tier_color(k), short_name(b.tier)) for k, b in enumerate(tiers)
        ]
        if not tiers and math.isfinite(limit):
            limits = [Threshold(limit, palette.LIMIT)]
        chart = line_chart(
            c["t"],
            [
                Line(c["ttft_p50"], palette.P50),
                Line(c["ttft_p99"], palette.P99),
                Line(c["ttft_p95"], palette.P95),
            ],
            width,
            height - 1,
            thresholds=limits,
            y_format=_axis,
            log_y=True,
        )
        return stack(legend, chart)
