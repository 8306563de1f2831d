"""The result of a run: N*, normalised figures, what bound it, how sure, where it is stored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Digits, Footer, Header, Static

from agentperf_tui.core.summary.headline import Headline, headline, summary_notes
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.tui import format as fmt
from agentperf_tui.tui import palette

FIXED_VERDICT = {"pass": "tier held", "fail": "tier missed", "undecided": "undecided"}


def _big_number(summary: RunSummary, head: Headline) -> str:
    """N* in large digits, or the N a fixed run held."""
    n = head.level_n if summary.mode == "fixed" else head.n_star
    return "—" if n is None else str(n)


def headline_table(summary: RunSummary, head: Headline) -> Table:
    t = Table(box=None, show_header=False, padding=(0, 1, 0, 0), expand=True)
    t.add_column(style="dim", no_wrap=True)
    t.add_column(ratio=1)
    per_gpu = fmt.ratio(head.agents_per_gpu, 2)
    gpus = f"  ({head.gpus} GPUs)" if head.gpus else "  (GPU count unknown: give --gpus or --hardware)"
    t.add_row("agents per GPU", Text(per_gpu, style="bold").append(gpus, style="dim"))
    mw = Text(fmt.ratio(head.agents_per_mw, 0), style="bold")
    mw.append(f"  {head.power_text()}", style=palette.WARN if head.agents_per_mw is None else "dim")
    if head.mean_power_w is not None:
        mw.append(f", mean {fmt.watts(head.mean_power_w)}", style="dim")
    t.add_row("agents per MW", mw)
    t.add_row("bound by", Text(head.bound_by() or "—"))
    t.add_row("confidence", Text(fmt.confidence(head.confidence)))
    tier = head.result.tier if head.result is not None else None
    t.add_row("tier", Text(f"{tier.name} ({tier.criteria()})" if tier is not None else "none"))
    t.add_row(
        "mode", Text(f"{summary.mode} · {summary.rigour} · {fmt.duration(summary.duration_s)}")
    )
    endpoint = Text(summary.endpoint or "—")
    if summary.model:
        endpoint.append(f"  {summary.model}", style="dim")
    t.add_row("endpoint", endpoint)
    t.add_row("stored", Text(f"run {summary.run_id or '—'} in {summary.store or '—'}"))
    return t


def notes_text(summary: RunSummary) -> Text:
    text = Text()
    for note in summary_notes(summary):
        style = "" if note.startswith("SIMULATED") else palette.WARN
        text.append("! ", style=palette.WARN).append(note + "\n", style=style)
    return text


def fill_levels(table: DataTable[Any], levels: Sequence[LevelRecord]) -> None:
    table.clear(columns=True)
    table.add_columns(
        "N", "verdict", "P25 tok/s", "p95 TTFT", "requests", "failed", "power", "confidence", "why"
    )
    for lv in levels:
        verdict = lv.verdict
        table.add_row(
            Text(str(lv.n), justify="right"),
            Text(palette.verdict_mark(verdict) + " " + verdict, style=palette.verdict_style(verdict)),
            Text(fmt.ratio(lv.speed_p25, 0), justify="right"),
            Text(fmt.seconds(lv.ttft_p95), justify="right"),
            Text(fmt.count(lv.requests), justify="right"),
            Text(fmt.count(lv.failed), justify="right"),
            Text(fmt.watts(lv.mean_power_w), justify="right"),
            Text(fmt.confidence(lv.confidence), justify="right"),
            Text(lv.reason, style="dim"),
        )


class ResultScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "app.new_run", "New run"),
        Binding("r", "app.runs", "Stored runs"),
        Binding("e", "export", "Export"),
        Binding("escape", "back", "Back"),
        Binding("question_mark,f1", "app.help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, summary: RunSummary, *, live: bool = True) -> None:
        super().__init__()
        self.summary = summary
        self.head = headline(summary)
        self.live = live

    def compose(self) -> ComposeResult:
        s, h = self.summary, self.head
        yield Header(icon="◆")
        with VerticalScroll(id="result-body"):
            with Horizontal(id="result-top"):
                with Vertical(id="nstar-box"):
                    yield Static(self._nstar_caption(), id="nstar-caption")
                    yield Digits(_big_number(s, h), id="nstar")
                yield Static(headline_table(s, h), id="headline")
            yield Static(notes_text(s), id="notes")
            table: DataTable[Any] = DataTable(id="levels", zebra_stripes=True, cursor_type="row")
            table.border_title = "Levels"
            yield table
        yield Footer()

    def _nstar_caption(self) -> Text:
        s, h = self.summary, self.head
        text = Text()
        if s.simulated:
            text.append(" SIMULATED ", style=palette.SIMULATED).append("\n")
        if s.mode == "fixed" and h.level is not None:
            verdict = h.level.verdict
            text.append("N", style="bold").append(" held, fixed run: ", style="dim")
            text.append(FIXED_VERDICT.get(verdict, verdict), style=palette.verdict_style(verdict))
        else:
            text.append("N*", style="bold")
            text.append(" highest N in tier" if s.mode == "search" else f" {s.mode} run", style="dim")
        if s.status != "finished":
            text.append(f"  {s.status.upper()}", style="bold " + palette.WARN)
        return text

    def on_mount(self) -> None:
        self.title = f"agentperf · result {self.summary.run_id or ''}"
        fill_levels(self.query_one("#levels", DataTable), self.summary.levels)

    def action_export(self) -> None:
        if self.summary.run_id is None:
            self.notify("This run has no id in the store: nothing to export", severity="error")
            return
        export = getattr(self.app, "ask_export", None)
        if export is not None:
            export(self.summary.run_id, self.summary.store)

    def action_back(self) -> None:
        if self.live:
            self.app.action_new_run()  # type: ignore[attr-defined]
        else:
            self.dismiss()
