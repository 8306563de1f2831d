"""GPU power per GPU and in total, energy so far, and where the reading comes from."""

from __future__ import annotations

import numpy as np
from rich.console import RenderableType
from rich.text import Text

from agentperf_tui.core import fmt
from agentperf_tui.core.views import PowerView, Snapshot
from agentperf_tui.tui import palette
from agentperf_tui.tui.charts import Band, Line, bar, line_chart
from agentperf_tui.tui.history import History
from agentperf_tui.tui.widgets.panel import Panel, stack


def _sources(power: PowerView) -> str:
    parts = []
    for s in power.sources:
        name = getattr(s, "source", str(s))
        if getattr(s, "available", False):
            parts.append(name)
        else:
            parts.append(f"{name}: {getattr(s, 'reason', None) or 'unavailable'}")
    return "; ".join(parts)


class PowerPanel(Panel):
    def __init__(self, *, id: str | None = "power") -> None:
        super().__init__("GPU power", id=id)

    def draw(self, snap: Snapshot, history: History, width: int, height: int) -> RenderableType:
        power = snap.power
        if power is not None and power.simulated:
            self.set_title("GPU power · SIMULATED")
        else:
            self.set_title("GPU power")
        self.set_subtitle(_sources(power) if power is not None else "")
        if power is None or power.total_w is None:
            note = Text(no_wrap=False)
            note.append("No power reading", style="bold " + palette.WARN)
            reason = (power.note if power is not None else None) or (
                _sources(power) if power is not None and power.sources else "no telemetry source configured"
            )
            note.append(f": {reason}\n", style="")
            note.append("Agents per megawatt needs a GPU power reading.", style="dim")
            return note
        lines: list[Text] = []
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append("total ", style="dim").append(fmt.watts(power.total_w), style="bold " + palette.POWER)
        head.append("   energy ", style="dim").append(fmt.energy(power.energy_j))
        if power.simulated:
            head.append("  simulated", style=palette.WARN)
        lines.append(head)
        gpus = sorted(power.per_gpu_w.items(), key=lambda kv: (len(kv[0]), kv[0]))
        colours = gpu_colours([g for g, _ in gpus])
        scale = max([1000.0, *(w for _, w in gpus)])
        label_w = max((len(g) for g, _ in gpus), default=1)
        per_row = 2 if width >= 2 * (label_w + 20) + 2 and len(gpus) > max(1, height // 3) else 1
        cell = (width - (per_row - 1) * 2) // per_row
        bar_w = max(3, cell - label_w - 9)
        gpu_lines: list[Text] = []
        for i in range(0, len(gpus), per_row):
            row = Text(no_wrap=True, overflow="crop")
            for j, (gpu, w) in enumerate(gpus[i : i + per_row]):
                if j:
                    row.append("  ")
                row.append(gpu.rjust(label_w), style=colours.get(gpu, "dim")).append(" ")
                row.append_text(bar(w / scale, bar_w, palette.POWER))
                row.append(fmt.watts(w).rjust(8))
            gpu_lines.append(row)
        room = height - 1
        chart_rows = room - len(gpu_lines)
        if chart_rows < 3:
            lines.extend(gpu_lines[:room])
            return stack(*lines)
        c = history.columns
        total = [Line(c["power_total"], palette.POWER)]
        if not gpus:
            lines.append(line_chart(c["t"], total, width, chart_rows, y_format=_kw))
        elif chart_rows >= TWO_CHARTS_ROWS:  # zoomed, or a tall terminal: the total above each GPU
            top = chart_rows // 2
            lines.append(line_chart(c["t"], total, width, top, y_format=_kw))
            lines.extend(per_gpu_chart(history, colours, width, chart_rows - top))
        else:
            lines.extend(per_gpu_chart(history, colours, width, chart_rows))
        lines.extend(gpu_lines)
        return stack(*lines)


TWO_CHARTS_ROWS = 14
"""Chart rows from which the panel draws the total and the per-GPU chart one above the other."""


def gpu_colours(gpus: list[str]) -> dict[str, str]:
    """One line colour per GPU while there are few enough to tell apart; none beyond that."""
    if len(gpus) > len(palette.GPU_LINES):
        return {}
    return {g: palette.GPU_LINES[i] for i, g in enumerate(gpus)}


def per_gpu_chart(history: History, colours: dict[str, str], width: int, height: int) -> list[Text]:
    """Each GPU's power over time, a line per GPU; with more GPUs than colours, the spread between
    the lowest and highest GPU as a band and the mean as a line, under a one-line legend."""
    t = history.columns["t"]
    if colours:
        series: list[Line | Band] = [Line(history.gpu_power.get(g, []), col) for g, col in colours.items()]
        return [line_chart(t, series, width, height, y_format=_kw)]
    cols = np.array(list(history.gpu_power.values()), dtype=float)
    seen = np.isfinite(cols)
    any_seen = seen.any(axis=0)
    lo = np.where(any_seen, np.where(seen, cols, np.inf).min(axis=0), np.nan)
    hi = np.where(any_seen, np.where(seen, cols, -np.inf).max(axis=0), np.nan)
    mean = np.where(any_seen, np.where(seen, cols, 0.0).sum(axis=0) / np.maximum(seen.sum(axis=0), 1), np.nan)
    legend = Text(no_wrap=True, overflow="ellipsis")
    legend.append("█", style=palette.DIM).append(f" lowest to highest of {len(cols)} GPUs  ", style="dim")
    legend.append("⣀", style=palette.POWER).append(" mean", style="dim")
    series = [Band(lo.tolist(), hi.tolist(), palette.DIM), Line(mean.tolist(), palette.POWER)]
    chart = line_chart(t, series, width, height - 1, y_format=_kw)
    return [legend, chart]


def _kw(v: float) -> str:
    return f"{v / 1000:.1f}kW" if v >= 1000 else f"{v:.0f}W"
