"""Stored runs: the list with annotations; open one, mark two to compare, export, annotate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from agentperf_tui.core import fmt
from agentperf_tui.core.store import RunInfo, annotate_run, list_runs, load_run
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.tui import palette
from agentperf_tui.tui.screens.prompt import PromptScreen
from agentperf_tui.tui.widgets.keys_footer import KeysFooter

STATUS_STYLE = {"finished": palette.PASS, "running": palette.STREAMING, "aborted": palette.WARN}
WIDE = 140
"""From this width a run is one line with a column for each field; narrower, two lines a run
(status and start under the id, the tier under the result, the note under the model), so that
every field stays in view at 80 columns."""
BORDER = 4
"""Columns the table's border and scrollbar take."""


def when(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall).strftime("%Y-%m-%d %H:%M")


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


Columns = list[tuple[str, int]]


def columns(width: int) -> Columns:
    """(label, width) of each column for a screen `width` wide; the notes take what is left."""
    if width >= WIDE:
        roomy = width >= WIDE + 20
        fixed: Columns = [(" ", 1), ("run", 20), ("started", 16), ("result", 42 if roomy else 30)]
        fixed += [("status", 10), ("model", 24 if roomy else 20)]
        label = "notes"
    else:
        fixed = [("run · status", 22), ("result · tier", 30)]
        label = "model · notes"
    used = sum(w for _, w in fixed) + 2 * (len(fixed) + 1) + BORDER
    return [*fixed, (label, max(10, width - used))]


def _result_and_tier(info: RunInfo) -> tuple[str, str]:
    tier = f" @ {info.tier}" if info.tier else ""
    head = info.headline
    return (head[: -len(tier)], info.tier or "no tier") if tier and head.endswith(tier) else (head, "")


def run_row(info: RunInfo, marked: bool, widths: Columns) -> list[Any]:
    w = dict(widths)
    status = Text(info.status, style=STATUS_STYLE.get(info.status, palette.FAIL))
    model = Text()
    if info.simulated:
        model.append("SIM", style=palette.SIMULATED).append(" ")
    model.append(info.model or "?")
    note = info.first_annotation or info.note or ""
    if info.annotations > 1:
        note += f" (+{info.annotations - 1})"
    mark = Text("●" if marked else " ", style=palette.P95)
    run_id = Text(info.id, style="bold" if marked else "")
    result_style = "bold" if info.result_final else ""
    if "notes" in w:
        return [
            mark, run_id, when(info.started_wall),
            Text(clip(info.headline, w["result"]), style=result_style),
            status, _clipped(model, w["model"]), Text(clip(note, w["notes"]), style=palette.P95),
        ]  # fmt: skip
    result, tier = _result_and_tier(info)
    first = Text.assemble(mark, " ", run_id)
    first.append("\n  ").append_text(status).append(" " + when(info.started_wall)[5:], style="dim")
    second = Text(clip(result, w["result · tier"]), style=result_style)
    second.append("\n" + clip(tier, w["result · tier"]), style="dim")
    room = w["model · notes"]
    third = _clipped(model, room).append("\n" + clip(note, room), style=palette.P95)
    return [first, second, third]


def _clipped(text: Text, width: int) -> Text:
    if text.cell_len <= width:
        return text
    out = text.copy()
    out.truncate(max(0, width - 1))
    return out.append("…")


class RunsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open"),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare marked"),
        Binding("e", "export", "Export"),
        Binding("a", "annotate", "Annotate"),
        Binding("f5", "refresh", "Refresh"),
        Binding("escape", "back", "Back"),
        Binding("question_mark,f1", "app.help", "Help", key_display="?"),
    ]

    def __init__(self, store: Path) -> None:
        super().__init__()
        self.store = store
        self.runs: list[RunInfo] = []
        self.marked: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        table: DataTable[Any] = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        table.border_title = "Stored runs"
        table.border_subtitle = str(self.store)
        yield table
        yield Static("Space marks a run; mark two and press c to compare them.", id="runs-hint")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "agentperf · stored runs"
        self.widths = columns(self.size.width)
        self._set_columns()
        self.query_one(DataTable).focus()
        self.action_refresh()

    def _set_columns(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for label, width in self.widths:
            table.add_column(label, width=width, key=label)

    def on_resize(self) -> None:
        widths = columns(self.size.width)
        if widths != getattr(self, "widths", None):
            self.widths = widths
            self._set_columns()
            self._fill(self.runs)

    # ---- loading ----
    def action_refresh(self) -> None:
        self._load()

    @work(thread=True, exit_on_error=False, exclusive=True, group="runs", name="read the run store")
    def _load(self) -> None:
        runs = list_runs(self.store)
        self.app.call_from_thread(self._fill, runs)

    def _fill(self, runs: list[RunInfo]) -> None:
        self.runs = runs
        ids = {r.id for r in runs}
        self.marked = [m for m in self.marked if m in ids]
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for info in runs:
            height = 1 if any(label == "notes" for label, _ in self.widths) else 2
            table.add_row(*run_row(info, info.id in self.marked, self.widths), key=info.id, height=height)
        if runs:
            table.move_cursor(row=min(max(row, 0), len(runs) - 1))
        hint = self.query_one("#runs-hint", Static)
        if not runs:
            hint.update(f"No runs stored in {self.store} yet: start one from the setup screen (F5).")
        else:
            marked = ", ".join(self.marked) or "none"
            keys = "Enter opens · Space marks · c compares"
            hint.update(f"{fmt.plural(len(runs), 'run')} · {keys} · marked: {marked}")

    def current(self) -> RunInfo | None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row < 0 or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row]

    # ---- actions ----
    def action_mark(self) -> None:
        info = self.current()
        if info is None:
            return
        if info.id in self.marked:
            self.marked.remove(info.id)
        else:
            self.marked.append(info.id)
            self.marked = self.marked[-2:]
        self._fill(self.runs)

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        """Enter on the table (DataTable consumes the key itself)."""
        self.action_open()

    def action_open(self) -> None:
        info = self.current()
        if info is not None:
            self._open(info.id)

    @work(thread=True, exit_on_error=False, exclusive=True, group="runs-open", name="load the run")
    def _open(self, run_id: str) -> None:
        run = load_run(self.store, run_id, with_requests=False, with_telemetry=False)
        summary = run.summary
        if summary.store is None:
            summary = summary.model_copy(update={"store": str(self.store)})
        self.app.call_from_thread(self._show, summary)

    def _show(self, summary: RunSummary) -> None:
        from agentperf_tui.tui.screens.result import ResultScreen

        self.app.push_screen(ResultScreen(summary, live=False))

    def action_compare(self) -> None:
        pair = list(self.marked)
        info = self.current()
        if len(pair) == 1 and info is not None and info.id != pair[0]:
            pair.append(info.id)
        if len(pair) != 2:
            self.notify("Mark two runs with Space (or one, then move to the other) to compare", timeout=4)
            return
        from agentperf_tui.tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(self.store, pair[0], pair[1]))

    def action_export(self) -> None:
        info = self.current()
        export = getattr(self.app, "ask_export", None)
        if info is not None and export is not None:
            export(info.id, str(self.store))

    def action_annotate(self) -> None:
        info = self.current()
        if info is None:
            return

        def done(text: str | None) -> None:
            if text:
                self._annotate(info.id, text)

        self.app.push_screen(PromptScreen(f"Annotate run {info.id}", "Note (e.g. max-num-seqs 256)"), done)

    @work(thread=True, exit_on_error=False, group="runs-annotate", name="annotate the run")
    def _annotate(self, run_id: str, text: str) -> None:
        annotate_run(self.store, run_id, text)
        self.app.call_from_thread(self._load)

    def action_back(self) -> None:
        self.dismiss()
