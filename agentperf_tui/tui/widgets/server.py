"""The server's own metrics (vLLM / SGLang / llama.cpp Prometheus endpoint, or the simulator)."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from agentperf_tui.core import fmt
from agentperf_tui.core.views import Snapshot
from agentperf_tui.tui import palette
from agentperf_tui.tui.charts import bar
from agentperf_tui.tui.history import History
from agentperf_tui.tui.widgets.panel import Panel

_FRACTIONS = {"kv_cache_usage": "KV cache used", "prefix_hit_rate": "prefix cache hits"}
_COUNTS = {"running": "running requests", "waiting": "queued requests"}
_RATES = {"prompt_tok_s": "prompt tokens", "gen_tok_s": "generated tokens"}


class ServerPanel(Panel):
    def __init__(self, *, id: str | None = "server") -> None:
        super().__init__("Server metrics", id=id)

    def draw(self, snap: Snapshot, history: History, width: int, height: int) -> RenderableType:
        server = snap.server
        if server is None:
            return Text("No server metrics (scraping off or not supported by this endpoint).", style="dim")
        self.set_subtitle(server.source)
        if not server.values:
            return Text(server.note or "no readings yet", style="dim")
        table = Table(box=None, padding=(0, 1), show_header=False, expand=True)
        table.add_column(style="dim", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(ratio=1, no_wrap=True)
        v = server.values
        for key, label in _COUNTS.items():
            if key in v:
                table.add_row(label, fmt.count(v[key]), "")
        for key, label in _FRACTIONS.items():
            if key in v:
                style = palette.WARN if key == "kv_cache_usage" and v[key] > 0.9 else palette.THROUGHPUT
                table.add_row(label, fmt.percent(v[key]), bar(v[key], max(4, width - 32), style))
        for key, label in _RATES.items():
            if key in v:
                table.add_row(label, fmt.rate(v[key]), "")
        known = _COUNTS.keys() | _FRACTIONS.keys() | _RATES.keys()
        for key in sorted(v.keys() - known):
            table.add_row(key.replace("_", " "), fmt.ratio(v[key], 2), "")
        if server.note:
            table.add_row(Text(server.note, style=palette.WARN), "", "")
        return table
