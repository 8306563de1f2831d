"""TTFT p50/p95/p99 over time against the tier's limit."""

from __future__ import annotations

import math

from rich.console import RenderableType
from rich.text import Text

from agentperf_tui.core.views import Snapshot
from agentperf_tui.tui import format as fmt
from agentperf_tui.tui import palette
from agentperf_tui.tui.charts import Line, Threshold, line_chart
from agentperf_tui.tui.history import History
from agentperf_tui.tui.widgets.panel import Panel, stack


def _axis(v: float) -> str:
    return f"{v * 1000:.0f}ms" if v < 1 else f"{v:.3g}s"


class TtftPanel(Panel):
    def __init__(self, *, id: str | None = "ttft") -> None:
        super().__init__("Time to first token", id=id)

    def draw(self, snap: Snapshot, history: History, width: int, height: int) -> RenderableType:
        limit = snap.search.ttft_limit if snap.search is not None else math.nan
        self.border_subtitle = f"window {fmt.duration(snap.window_s)}"
        legend = Text(no_wrap=True, overflow="ellipsis")
        legend.append("p95 ", style=palette.P95).append(fmt.seconds(snap.ttft.p95), style="bold")
        if math.isfinite(limit):
            if not math.isnan(snap.ttft.p95):
                ok = snap.ttft.p95 <= limit
                legend.append(" ✓" if ok else " ✗", style=palette.PASS if ok else palette.FAIL)
            legend.append(" limit ", style=palette.LIMIT).append(fmt.seconds(limit), style=palette.LIMIT)
        legend.append("  p50 ", style=palette.P50).append(fmt.seconds(snap.ttft.p50))
        legend.append("  p99 ", style=palette.P99).append(fmt.seconds(snap.ttft.p99))
        if height < 3:
            return legend
        c = history.columns
        chart = line_chart(
            c["t"],
            [
                Line(c["ttft_p50"], palette.P50),
                Line(c["ttft_p99"], palette.P99),
                Line(c["ttft_p95"], palette.P95),
            ],
            width,
            height - 1,
            thresholds=[Threshold(limit, palette.LIMIT)] if math.isfinite(limit) else [],
            y_format=_axis,
        )
        return stack(legend, chart)
