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
from textual.widgets import DataTable, Header, Static

from agentperf_tui.core import fmt
from agentperf_tui.core.store import Difference, RunData, comparability, compare_runs, load_run, material
from agentperf_tui.core.store.access import tier_names
from agentperf_tui.core.store.compare import MATERIAL
from agentperf_tui.tui import palette
from agentperf_tui.tui.screens.runs import clip
from agentperf_tui.tui.widgets.keys_footer import KeysFooter
from agentperf_tui.tui.widgets.tier_marks import verdict_marks

TALL = 36
"""From this height the screen shows each run's levels under the table (key l toggles them)."""


def cell(value: Any, field: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return fmt.number(value)
        if "(s)" in field:
            return fmt.seconds(value)
        if "(W)" in field:
            return fmt.watts(value)
        if "rate" in field or "hits" in field:
            return fmt.percent(value, 1)
        if "speed" in field:
            return fmt.speed(value, unit=False)
        if "tok/s" in field:
            return fmt.rate(value, "")
        return fmt.number(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def delta_text(d: Difference) -> Text:
    """B − A with its relative size; "±0" when nothing is left of it after rounding; coloured only
    when the difference matters (see core/store/compare.py)."""
    if d.delta is None or isinstance(d.a, bool):
        return Text("")
    shown = cell(d.delta, d.field)
    if d.delta == 0 or not _nonzero(shown):
        return Text("±0", style="dim")
    sign = "+" if d.delta > 0 else ""
    text = f"{sign}{shown}"
    fraction = "rate" in d.field or "hits" in d.field  # a change of a fraction is in points, not %
    if d.a not in (None, 0) and isinstance(d.a, int | float) and not fraction:
        rel = fmt.number(d.delta / abs(float(d.a)) * 100, 0)
        if _nonzero(rel):
            text += f" ({sign}{rel}%)"
    if d.better is not None:
        style = palette.PASS if d.better == "b" else palette.FAIL
    elif isinstance(d.a, int | float) and isinstance(d.b, int | float) and material(d.field, d.a, d.b):
        style = palette.WARN
    else:
        style = "dim"
    return Text(text, style=style)


def _nonzero(text: str) -> bool:
    """A formatted number shows something other than zero."""
    return any(ch in "123456789∞" for ch in text)


def difference_row(d: Difference, width: int = 30, name: str | None = None) -> list[Text]:
    """The row of one difference: its name (`name`, when the screen writes it otherwise than the
    field, e.g. without the tier of a row under that tier's heading), A, B and B − A."""
    a, b = Text(clip(cell(d.a, d.field), width)), Text(clip(cell(d.b, d.field), width))
    differs = d.a != d.b
    numeric = isinstance(d.a, int | float) and isinstance(d.b, int | float) and not isinstance(d.a, bool)
    if d.better == "a":
        a.stylize("bold " + palette.PASS)
        b.stylize(palette.FAIL)
    elif d.better == "b":
        b.stylize("bold " + palette.PASS)
        a.stylize(palette.FAIL)
    elif differs and (not numeric or material(d.field, float(d.a), float(d.b))):
        a.stylize(palette.WARN)
        b.stylize(palette.WARN)
    label = Text(d.field if name is None else name, style="bold" if differs else "dim")
    return [label, a, b, delta_text(d)]


TIER_ROW = " @ "
"""How compare_runs names a row of one tier's figures: "agents/GPU @ gpt-oss-120b@rev1/100-5"."""


def tier_heading(tier: str, k: int, runs: tuple[RunData, RunData], widths: tuple[int, int]) -> list[Text]:
    """The heading row of one tier's figures: the tier (its whole name where it fits), and for
    each run the tier's criteria (P25 speed floor, P95 TTFT limit), or "not judged" against it."""
    name_w, value_w = widths
    named = f"tier {tier}" if len(tier) + 5 <= name_w else f"tier {tier.rpartition('/')[2]}"
    cells = [Text(clip(named, name_w), style="bold " + palette.tier_color(k))]
    for run in runs:
        result = next((r for r in run.summary.results if r.tier is not None and r.tier.name == tier), None)
        if result is not None and result.tier is not None:
            t = result.tier
            speed, ttft = fmt.limit_text(t.speed_tok_s), fmt.limit_text(t.ttft_s)
            criteria = f"≥ {speed} tok/s, ≤ {ttft} s"
            if len(criteria) > value_w:  # never cut a figure: the short form instead
                short = f"≥{speed} tok/s ≤{ttft} s"
                criteria = short if len(short) <= value_w else f"≥{speed} ≤{ttft}s"
            cells.append(Text(criteria, style="dim"))
        elif tier in tier_names(run.summary, run.config):
            cells.append(Text("judged, no result", style="dim"))
        else:
            cells.append(Text("not judged", style="dim"))
    return [*cells, Text("")]


def levels_text(run: RunData) -> Text:
    text = Text()
    judged = run.info.tier is not None
    for lv in run.levels:
        shown = lv.shown_verdict(judged=judged)
        text.append(f"{lv.n:>5} ", style="bold")
        text.append(f"{palette.verdict_mark(shown)} {shown:<9}", style=palette.verdict_style(shown))
        if len(lv.tiers) > 1:
            text.append_text(verdict_marks(lv)).append(" ")
        text.append(
            f" P25 {fmt.speed(lv.speed_p25, unit=False):>5}  p95 {fmt.seconds(lv.ttft_p95):>8}\n", style="dim"
        )
    for a in run.annotations:
        text.append("note ", style="dim").append(a.text + "\n", style=palette.P95)
    return text


def widths_for(total: int) -> tuple[int, int, int]:
    """(field, value, delta) column widths that fit `total` columns of screen."""
    narrow = total < 120
    delta = 14 if narrow else 18
    name = 22 if narrow else 34
    value = max(10, (total - name - delta - 2 * 4 - 4) // 2)
    return name, value, delta


class CompareScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "only_differences", "Only differences"),
        Binding("x", "swap", "Swap A/B"),
        Binding("l", "levels", "Levels"),
        Binding("escape", "back", "Back"),
        Binding("question_mark,f1", "app.help", "Help", key_display="?"),
    ]

    def __init__(self, store: Path, run_a: str, run_b: str) -> None:
        super().__init__()
        self.store, self.run_a, self.run_b = store, run_a, run_b
        self.differences: list[Difference] = []
        self.runs: tuple[RunData, RunData] | None = None
        self.only_differences = False
        self.show_levels: bool | None = None
        """None: shown when the screen is tall enough."""

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Vertical(id="compare-body"):
            yield Static(id="compare-notes")
            table: DataTable[Any] = DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            table.border_title = "Compare"
            yield table
            with Horizontal(id="compare-levels"):
                yield Static(id="levels-a", classes="compare-side")
                yield Static(id="levels-b", classes="compare-side")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "agentperf · compare"
        table = self.query_one(DataTable)
        self._columns()
        table.loading = True
        self._sync_levels()
        self._load()

    def _columns(self) -> None:
        table = self.query_one(DataTable)
        name, value, delta = widths_for(self.size.width)
        self._value_width = value
        table.clear(columns=True)
        table.add_column("", width=name)
        table.add_column(clip(f"A {self.run_a}", value), width=value)
        table.add_column(clip(f"B {self.run_b}", value), width=value)
        table.add_column("B − A", width=delta)

    def on_resize(self) -> None:
        self._sync_levels()
        if self.runs is not None:
            self._fill(*self.runs, self.differences)

    def _sync_levels(self) -> None:
        shown = self.show_levels if self.show_levels is not None else self.size.height >= TALL
        self.query_one("#compare-levels").display = shown

    def action_levels(self) -> None:
        current = self.query_one("#compare-levels").display
        self.show_levels = not current
        self._sync_levels()

    @work(thread=True, exit_on_error=False, exclusive=True, group="compare", name="load the runs to compare")
    def _load(self) -> None:
        a = load_run(self.store, self.run_a, with_telemetry=True)
        b = load_run(self.store, self.run_b, with_telemetry=True)
        diffs = compare_runs(a, b)
        self.app.call_from_thread(self._fill, a, b, diffs)

    def _fill(self, a: RunData, b: RunData, diffs: list[Difference]) -> None:
        self.runs = (a, b)
        self.differences = diffs
        self._columns()
        table = self.query_one(DataTable)
        table.loading = False
        shown = [d for d in diffs if not self.only_differences or d.a != d.b]
        tiers: list[str] = []
        for d in shown:
            label, _, tier = d.field.partition(TIER_ROW)
            if not tier or d.field.startswith("config."):
                table.add_row(*difference_row(d, self._value_width), height=None)
                continue
            if tier not in tiers:  # the rows of each tier under a heading that names it once
                tiers.append(tier)
                widths = (widths_for(self.size.width)[0], self._value_width)
                table.add_row(*tier_heading(tier, len(tiers) - 1, (a, b), widths))
            table.add_row(*difference_row(d, self._value_width, name=f"  {label}"), height=None)
        changed = sum(1 for d in diffs if d.a != d.b)
        table.border_subtitle = (
            f"{changed} of {len(diffs)} rows differ · green/red: better/worse by more than "
            f"{fmt.percent(MATERIAL)} · d: only differences · l: levels"
        )
        notes = self.query_one("#compare-notes", Static)
        text = Text()
        text.append("A ", style="bold").append(a.info.id).append(f"  {a.info.headline}\n", style="dim")
        text.append("B ", style="bold").append(b.info.id).append(f"  {b.info.headline}", style="dim")
        for problem in comparability(a, b):
            text.append(f"\n! {problem}", style=palette.WARN)
        notes.update(text)
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
