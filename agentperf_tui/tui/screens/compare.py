"""Two stored runs side by side: headline figures (better one marked), then every setting that
differs, then each run's levels and notes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from agentperf_tui.core import fmt
from agentperf_tui.core.store import Difference, RunData, compare_runs, load_run
from agentperf_tui.tui import palette


def cell(value: Any, field: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if "(s)" in field:
            return fmt.seconds(value)
        if "(W)" in field:
            return fmt.watts(value)
        if "rate" in field:
            return fmt.percent(value, 1)
        return fmt.ratio(value, 2 if abs(value) < 100 else 0)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def delta_text(d: Difference) -> Text:
    if d.delta is None or d.a in (None, 0) or isinstance(d.a, bool):
        return Text(cell(d.delta, d.field) if d.delta is not None else "")
    rel = d.delta / abs(float(d.a))
    style = palette.PASS if d.better == "b" else palette.FAIL if d.better == "a" else "dim"
    sign = "+" if d.delta > 0 else ""
    return Text(f"{sign}{cell(d.delta, d.field)} ({sign}{rel * 100:.0f}%)", style=style)


def difference_row(d: Difference) -> list[Text]:
    a, b = Text(cell(d.a, d.field)), Text(cell(d.b, d.field))
    differs = d.a != d.b
    if d.better == "a":
        a.stylize("bold " + palette.PASS)
        b.stylize(palette.FAIL)
    elif d.better == "b":
        b.stylize("bold " + palette.PASS)
        a.stylize(palette.FAIL)
    elif differs:
        a.stylize(palette.WARN)
        b.stylize(palette.WARN)
    name = Text(d.field, style="bold" if differs else "dim")
    return [name, a, b, delta_text(d)]


def levels_text(run: RunData) -> Text:
    text = Text()
    for lv in run.levels:
        text.append(f"{lv.n:>5} ", style="bold")
        text.append(
            f"{palette.verdict_mark(lv.verdict)} {lv.verdict:<9}", style=palette.verdict_style(lv.verdict)
        )
        text.append(f" P25 {fmt.ratio(lv.speed_p25, 0):>5}  p95 {fmt.seconds(lv.ttft_p95):>8}\n", style="dim")
    for a in run.annotations:
        text.append("note ", style="dim").append(a.text + "\n", style=palette.P95)
    return text


class CompareScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "only_differences", "Only differences"),
        Binding("x", "swap", "Swap A/B"),
        Binding("escape", "back", "Back"),
        Binding("question_mark,f1", "app.help", "Help", key_display="?"),
    ]

    def __init__(self, store: Path, run_a: str, run_b: str) -> None:
        super().__init__()
        self.store, self.run_a, self.run_b = store, run_a, run_b
        self.differences: list[Difference] = []
        self.runs: tuple[RunData, RunData] | None = None
        self.only_differences = False

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Vertical(id="compare-body"):
            table: DataTable[Any] = DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            table.border_title = "Compare"
            yield table
            with Horizontal(id="compare-levels"):
                yield Static(id="levels-a", classes="compare-side")
                yield Static(id="levels-b", classes="compare-side")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"agentperf · compare {self.run_a} vs {self.run_b}"
        table = self.query_one(DataTable)
        table.add_columns("", f"A {self.run_a}", f"B {self.run_b}", "B − A")
        table.loading = True
        self._load()

    @work(thread=True, exit_on_error=False, exclusive=True, group="compare", name="load the runs to compare")
    def _load(self) -> None:
        a = load_run(self.store, self.run_a, with_telemetry=True)
        b = load_run(self.store, self.run_b, with_telemetry=True)
        diffs = compare_runs(a, b)
        self.app.call_from_thread(self._fill, a, b, diffs)

    def _fill(self, a: RunData, b: RunData, diffs: list[Difference]) -> None:
        self.runs = (a, b)
        self.differences = diffs
        table = self.query_one(DataTable)
        table.loading = False
        table.clear()
        shown = [d for d in diffs if not self.only_differences or d.a != d.b]
        for d in shown:
            table.add_row(*difference_row(d))
        changed = sum(1 for d in diffs if d.a != d.b)
        table.border_subtitle = f"{changed} of {len(diffs)} rows differ · green = better"
        for side, run in (("a", a), ("b", b)):
            box = self.query_one(f"#levels-{side}", Static)
            box.border_title = f"{side.upper()} {run.info.id} · {run.info.headline}"
            box.update(levels_text(run))

    def action_only_differences(self) -> None:
        self.only_differences = not self.only_differences
        if self.runs is not None:
            self._fill(*self.runs, self.differences)

    def action_swap(self) -> None:
        self.app.switch_screen(CompareScreen(self.store, self.run_b, self.run_a))

    def action_back(self) -> None:
        self.dismiss()
