"""Active agents by state (waiting for first token, streaming, in a tool call) and N over time."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from agentperf_tui.core.views import Snapshot
from agentperf_tui.tui import palette
from agentperf_tui.tui.charts import stacked_chart
from agentperf_tui.tui.history import History
from agentperf_tui.tui.widgets.panel import Panel, stack


class AgentsPanel(Panel):
    def __init__(self, *, id: str | None = "agents") -> None:
        super().__init__("Agents: waiting for 1st token · streaming · in tool", id=id)

    def draw(self, snap: Snapshot, history: History, width: int, height: int) -> RenderableType:
        self.set_subtitle(f"N target {snap.target_n}")
        legend = Text(no_wrap=True, overflow="ellipsis")
        if snap.requests_stalled:  # first: it matters most when there is any, and a narrow panel cuts the end
            legend.append(f"✗ {snap.requests_stalled} stalled or timed out so far  ", style=palette.FAIL)
        legend.append("■", style=palette.WAITING).append(f"{snap.requests_waiting} waiting  ")
        legend.append("■", style=palette.STREAMING).append(f"{snap.requests_streaming} streaming  ")
        legend.append("■", style=palette.IN_TOOL).append(f"{snap.agents_in_tool} in tool  ")
        legend.append("─ ", style=palette.TARGET).append("target N", style="dim")
        if height < 3:
            return legend
        c = history.columns
        chart = stacked_chart(
            c["t"],
            [
                (c["in_tool"], palette.IN_TOOL),
                (c["streaming"], palette.STREAMING),
                (c["waiting"], palette.WAITING),
            ],
            width,
            height - 1,
            line=(c["target_n"], palette.TARGET),
            y_format=lambda v: f"{v:.0f}",
        )
        return stack(legend, chart)
