"""Output throughput over time, request counts, client lag and accounting mismatches."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from agentperf_tui.core import fmt
from agentperf_tui.core.views import Snapshot
from agentperf_tui.tui import palette
from agentperf_tui.tui.charts import Line, line_chart
from agentperf_tui.tui.history import History
from agentperf_tui.tui.widgets.panel import Panel, stack

LAG_WARN_S = 0.05
"""Client lag above this means the load generator, not the server, is shaping the numbers."""


class ThroughputPanel(Panel):
    def __init__(self, *, id: str | None = "throughput") -> None:
        super().__init__("Throughput", id=id)

    def draw(self, snap: Snapshot, history: History, width: int, height: int) -> RenderableType:
        self.set_subtitle(f"{fmt.si(snap.output_tokens)} tokens out")
        lines = []
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(fmt.rate(snap.throughput_tok_s), style="bold")
        head.append(f"   {fmt.count(snap.requests_ok)} ok")
        head.append(
            f"  {fmt.count(snap.requests_failed)} failed",
            style=palette.FAIL if snap.requests_failed else "dim",
        )
        lines.append(head)
        lag = Text(no_wrap=True, overflow="ellipsis")
        lag_bad = snap.client_lag_p99 > LAG_WARN_S
        lag.append("client lag ", style="dim")
        lag.append(f"p99 {fmt.seconds(snap.client_lag_p99)}", style=palette.WARN if lag_bad else "")
        lag.append(f"  max {fmt.seconds(snap.client_lag_max)}", style="dim")
        if snap.usage_mismatches or snap.length_mismatches:
            lag.append(
                f"  mismatch usage {snap.usage_mismatches} length {snap.length_mismatches}",
                style=palette.WARN,
            )
        lines.append(lag)
        if height - len(lines) >= 2:
            c = history.columns
            lines.append(
                line_chart(c["t"], [Line(c["throughput"], palette.THROUGHPUT)], width, height - len(lines))
            )
        return stack(*lines[:height])
