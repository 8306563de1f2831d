"""The result of a run: N*, normalised figures, what bound it, how sure, where it is stored."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Digits, Footer, Header, Static

from agentperf_tui.tui import format as fmt
from agentperf_tui.tui import palette
from agentperf_tui.tui.result_view import ResultView, from_summary

FIXED_VERDICT = {"pass": "tier held", "fail": "tier missed", "undecided": "undecided"}


def _big_number(v: ResultView) -> str:
    """N* in large digits, or the N a fixed run held."""
    n = v.fixed_n if v.fixed_n is not None else v.n_star
    return "—" if n is None else str(n)


def headline(view: ResultView) -> Table:
    t = Table(box=None, show_header=False, padding=(0, 1, 0, 0), expand=True)
    t.add_column(style="dim", no_wrap=True)
    t.add_column(ratio=1)
    per_gpu = fmt.ratio(view.agents_per_gpu, 2)
    gpus = (
        f"  ({view.gpu_count} GPUs)" if view.gpu_count else "  (GPU count unknown: give --gpus or --hardware)"
    )
    t.add_row("agents per GPU", Text(per_gpu, style="bold").append(gpus, style="dim"))
    mw = Text(fmt.ratio(view.agents_per_mw, 0), style="bold")
    mw.append(f"  {view.power_basis}", style=palette.WARN if view.agents_per_mw is None else "dim")
    if view.mean_power_w is not None:
        mw.append(f", mean {fmt.watts(view.mean_power_w)}", style="dim")
    t.add_row("agents per MW", mw)
    t.add_row("bound by", Text(view.bound_by or "—"))
    t.add_row("confidence", Text(fmt.confidence(view.confidence)))
    t.add_row("tier", Text(view.tier or "none"))
    t.add_row("mode", Text(f"{view.mode or '—'} · {view.rigour or '—'} · {fmt.duration(view.duration_s)}"))
    endpoint = Text(view.endpoint or "—")
    if view.model:
        endpoint.append(f"  {view.model}", style="dim")
    t.add_row("endpoint", endpoint)
    t.add_row("stored", Text(f"run {view.run_id or '—'} in {view.store or '—'}"))
    return t


def notes_text(view: ResultView) -> Text:
    text = Text()
    for note in view.notes:
        style = palette.SIMULATED if note.startswith("SIMULATED") else palette.WARN
        text.append("! ", style=palette.WARN).append(
            note + "\n", style=style if style != palette.SIMULATED else ""
        )
    return text


def fill_levels(table: DataTable[Any], levels: list[dict[str, Any]]) -> None:
    table.clear(columns=True)
    table.add_columns(
        "N", "verdict", "P25 tok/s", "p95 TTFT", "requests", "failed", "power", "confidence", "why"
    )
    for lv in levels:
        verdict = str(lv.get("verdict", "undecided"))
        table.add_row(
            Text(str(lv.get("n", "?")), justify="right"),
            Text(palette.verdict_mark(verdict) + " " + verdict, style=palette.verdict_style(verdict)),
            Text(fmt.ratio(lv.get("speed_p25"), 0), justify="right"),
            Text(fmt.seconds(lv.get("ttft_p95")), justify="right"),
            Text(fmt.count(lv.get("requests")), justify="right"),
            Text(fmt.count(lv.get("failed")), justify="right"),
            Text(fmt.watts(lv.get("mean_power_w")), justify="right"),
            Text(fmt.confidence(lv.get("confidence")), justify="right"),
            Text(str(lv.get("reason") or ""), style="dim"),
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

    def __init__(self, summary: dict[str, Any], *, live: bool = True) -> None:
        super().__init__()
        self.summary = summary
        self.view = from_summary(summary)
        self.live = live

    def compose(self) -> ComposeResult:
        v = self.view
        yield Header(icon="◆")
        with VerticalScroll(id="result-body"):
            with Horizontal(id="result-top"):
                with Vertical(id="nstar-box"):
                    yield Static(self._nstar_caption(), id="nstar-caption")
                    yield Digits(_big_number(v), id="nstar")
                yield Static(headline(v), id="headline")
            yield Static(notes_text(v), id="notes")
            table: DataTable[Any] = DataTable(id="levels", zebra_stripes=True, cursor_type="row")
            table.border_title = "Levels"
            yield table
        yield Footer()

    def _nstar_caption(self) -> Text:
        v = self.view
        text = Text()
        if v.simulated:
            text.append(" SIMULATED ", style=palette.SIMULATED).append("\n")
        if v.fixed_n is not None and v.fixed_verdict is not None:
            text.append("N", style="bold").append(" held, fixed run: ", style="dim")
            verdict = FIXED_VERDICT.get(v.fixed_verdict, v.fixed_verdict)
            text.append(verdict, style=palette.verdict_style(v.fixed_verdict))
        else:
            text.append("N*", style="bold")
            text.append(" highest N in tier" if v.mode == "search" else f" {v.mode} run", style="dim")
        if v.status != "finished":
            text.append(f"  {v.status.upper()}", style="bold " + palette.WARN)
        return text

    def on_mount(self) -> None:
        self.title = f"agentperf · result {self.view.run_id or ''}"
        fill_levels(self.query_one("#levels", DataTable), self.view.levels)

    def action_export(self) -> None:
        if self.view.run_id is None:
            self.notify("This run has no id in the store: nothing to export", severity="error")
            return
        export = getattr(self.app, "ask_export", None)
        if export is not None:
            export(self.view.run_id, self.view.store)

    def action_back(self) -> None:
        if self.live:
            self.app.action_new_run()  # type: ignore[attr-defined]
        else:
            self.dismiss()
