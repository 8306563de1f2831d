"""A run's answer for each of its tiers on the result screen: N* per tier, the table of every
tier's figures, and bars of agents per MW and per GPU across the tiers."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from agentperf_tui.core.report.tier_rows import (
    TierRow,
    per_gpu_caption,
    per_mw_caption,
    power_bases,
    tier_rows,
)
from agentperf_tui.core.summary.headline import Headline
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.tui import palette
from agentperf_tui.tui.charts import HBar, hbars


def several_tiers(summary: RunSummary) -> bool:
    return len(tier_rows(summary)) > 1


def nstar_lines(summary: RunSummary) -> Text:
    """N* of each tier, one per line: the tier's S-T part in its colour, N* in bold."""
    rows = tier_rows(summary)
    width = max(len(r.short) for r in rows)
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    for k, r in enumerate(rows):
        if k:
            text.append("\n")
        text.append(r.short.rjust(width), style=palette.tier_color(k)).append("  N* ", style="dim")
        text.append(r.n_star, style="bold")
    return text


WIDE = 100
"""From this width the tier table writes what bound each search in full, and each power basis."""


def tier_table(summary: RunSummary, width: int = WIDE) -> Table:
    """Every tier's figures: N*, agents per GPU and per MW, the GPU power they divide by (its
    basis in each row when the tiers' differ, else in the caption), the level they rest on
    (#place in the run, N), the confidence, and what bound each search."""
    rows = tier_rows(summary)
    wide = width >= WIDE
    bases = power_bases(summary)
    t = Table(expand=True, box=None, padding=(0, 1, 0, 0), header_style="dim", show_edge=False)
    t.add_column("tier", no_wrap=True)
    t.add_column("N*", justify="right", no_wrap=True)
    t.add_column("agents/GPU", justify="right", no_wrap=True)
    t.add_column("agents/MW", justify="right", no_wrap=True)
    t.add_column("GPU power", no_wrap=True)
    t.add_column("level", no_wrap=True)
    t.add_column("conf", justify="right", no_wrap=True)
    t.add_column("bound by", ratio=1, overflow="ellipsis", no_wrap=True)
    for k, r in enumerate(rows):
        power = Text(r.power_w)
        if len(bases) > 1 and r.power != "—":
            power.append(f" {r.power}", style="dim")
        t.add_row(
            Text(r.short, style=palette.tier_color(k)), Text(r.n_star, style="bold"), r.per_gpu,
            Text(r.per_mw, style="bold" if r.head.agents_per_mw is not None else "dim"), power, r.level,
            r.confidence, Text(r.bound_by if wide else r.bound_short, style="dim"),
        )  # fmt: skip
    return t


class TierTable(Widget):
    """`tier_table` laid out for the widget's width."""

    DEFAULT_CSS = """
    TierTable {
        height: auto;
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        padding: 0 1;
    }
    """

    def __init__(self, summary: RunSummary, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.summary = summary
        self.border_title = "Tiers"
        bases = power_bases(summary)
        basis = f"{bases[0]}, " if len(bases) == 1 else ""
        self.border_subtitle = f"GPU power: {basis}mean over each tier's level window"

    def render(self) -> Table:
        return tier_table(self.summary, self.content_size.width or WIDE)


def _missing(row: TierRow, per_mw: bool) -> str:
    """Why a tier has no bar."""
    h: Headline = row.head
    if h.n_star is None:
        return "no answer"
    if h.n_star == 0:
        return "no level met the tier"
    if per_mw and h.agents_per_mw is None:
        return h.power_text()
    return "GPU count unknown" if h.agents_per_gpu is None else ""


def tier_bars(summary: RunSummary, width: int) -> Text:
    """Agents per MW, then agents per GPU, one bar per tier each, under captions that say what
    they rest on (simulated power, of how many GPUs)."""
    rows = tier_rows(summary)
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    groups = ((per_mw_caption(summary), True), (per_gpu_caption(summary), False))
    for i, (caption, per_mw) in enumerate(groups):
        if i:
            text.append("\n")
        text.append(caption + "\n", style="bold")
        bars = [
            HBar(
                r.short,
                r.head.agents_per_mw if per_mw else r.head.agents_per_gpu,
                r.per_mw if per_mw else r.per_gpu,
                palette.tier_color(k),
                _missing(r, per_mw),
            )
            for k, r in enumerate(rows)
        ]
        text.append_text(hbars(bars, width))
    return text


class TierBars(Widget):
    """`tier_bars` drawn at the widget's width."""

    DEFAULT_CSS = """
    TierBars {
        height: auto;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        border: round $panel-lighten-2;
        border-title-color: $text;
        padding: 0 1;
    }
    """

    def __init__(self, summary: RunSummary, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.summary = summary
        self.border_title = "Across tiers" + (" · [b]SIMULATED[/b]" if summary.simulated else "")

    def render(self) -> Text:
        return tier_bars(self.summary, max(20, self.content_size.width))
