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
from textual.widgets import DataTable, Digits, Header, Static

from agentperf_tui.core import fmt
from agentperf_tui.core.report.tier_rows import tier_rows
from agentperf_tui.core.search.confidence_text import confidence_text
from agentperf_tui.core.summary.headline import Headline, failures_text, headline, summary_notes
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.tiers import tiers_label
from agentperf_tui.tui import palette
from agentperf_tui.tui.widgets.keys_footer import KeysFooter
from agentperf_tui.tui.widgets.tier_results import TierBars, TierTable, nstar_lines, several_tiers

FIXED_VERDICT = {
    "pass": "tier held",
    "fail": "tier missed",
    "~pass": "tier held (by its estimate: not settled)",
    "~fail": "tier missed (by its estimate: not settled)",
    "measured": "no tier: measured only",
    "ended": "no tier: measured only",
    "open": "still open",
    "discarded": "discarded",
}


def fixed_verdict(shown: str) -> str:
    """A fixed run's answer in words: whether the tier held at its N."""
    base = shown.split(" (", 1)[0]
    return FIXED_VERDICT.get(base, shown)


def judged(summary: RunSummary) -> bool:
    """The run had a tier to judge its levels against."""
    result = summary.result
    return result is not None and result.tier is not None


def _big_number(summary: RunSummary, head: Headline) -> str:
    """N* in large digits, or the N a fixed run held."""
    n = head.level_n if summary.mode == "fixed" else head.n_star
    return "—" if n is None else str(n)


def moved_text(output: float | None, input_: float | None, rps: float | None, cache: float | None,
               server_cache: float | None = None) -> Text:
    """ "1.2k tok/s out · 45.6k tok/s in · 3.2 req/s · prefix cache 87% (server 85%)"."""
    text = Text()
    text.append(fmt.rate(output), style="bold").append(" out", style="dim")
    text.append(" · ", style="dim").append(fmt.rate(input_)).append(" in", style="dim")
    text.append(" · ", style="dim").append(fmt.number(rps)).append(" req/s", style="dim")
    text.append(" · prefix cache ", style="dim").append(fmt.percent(cache))
    if server_cache is not None:
        text.append(f" (server {fmt.percent(server_cache)})", style="dim")
    return text


def headline_table(summary: RunSummary, head: Headline) -> Table:
    """The run's answer and what it rests on; with several tiers, what they share (each tier's
    figures are in the tier table)."""
    t = Table(box=None, show_header=False, padding=(0, 1, 0, 0), expand=True)
    t.add_column(style="dim", no_wrap=True)
    t.add_column(ratio=1)
    if several_tiers(summary):
        _shared_rows(t, summary, head)
    else:
        _answer_rows(t, summary, head)
    _run_rows(t, summary)
    return t


def _shared_rows(t: Table, summary: RunSummary, head: Headline) -> None:
    rows = tier_rows(summary)
    tiers = Text(f"{len(rows)} tiers, judged on the same levels: ", style="bold")
    tiers.append(tiers_label([r.tier for r in rows]), style="dim")
    t.add_row("tiers", tiers)
    gpus = Text(fmt.plural(head.gpus, "GPU") if head.gpus else "unknown: give --gpus or --hardware",
                style="" if head.gpus else palette.WARN)
    if head.gpus and summary.simulated:
        gpus.append("  simulated", style=palette.WARN)
    t.add_row("GPUs", gpus)


def _answer_rows(t: Table, summary: RunSummary, head: Headline) -> None:
    per_gpu = Text(fmt.per_gpu(head.agents_per_gpu), style="bold")
    if head.gpus:
        per_gpu.append(f"  ({fmt.plural(head.gpus, 'GPU')})", style="dim")
    else:
        per_gpu.append("  GPU count unknown: give --gpus or --hardware", style=palette.WARN)
    t.add_row("agents per GPU", per_gpu)
    mw = Text(fmt.per_mw(head.agents_per_mw), style="bold")
    mw.append(f"  {head.power_text()}", style=palette.WARN if head.agents_per_mw is None else "dim")
    if head.mean_power_w is not None and head.agents_per_mw is not None:
        mw.append(f", mean {fmt.watts(head.mean_power_w)}", style="dim")
    t.add_row("agents per MW", mw)
    lv = head.level
    if lv is not None and lv.output_tok_s is not None:  # none: a plan, or a run stored before them
        t.add_row(f"window at {head.at}", moved_text(lv.output_tok_s, lv.input_tok_s, lv.requests_per_s,
                                                     lv.cache_hit_ratio, lv.server_prefix_hit_ratio))


def _run_rows(t: Table, summary: RunSummary) -> None:
    head = headline(summary)
    w = summary.whole_run
    if w.output_tok_s is not None:
        t.add_row("whole run", moved_text(w.output_tok_s, w.input_tok_s, w.requests_per_s, w.cache_hit_ratio))
    req = summary.requests
    requests = Text(f"{fmt.count(req.total)}  ({fmt.count(req.ok)} ok")
    if req.failed:
        kinds = failures_text(summary)
        failed = f", {fmt.count(req.failed)} failed" + (f": {kinds}" if kinds else "")
        requests.append(failed, style=palette.WARN)
    if req.open_at_end:
        requests.append(f", {fmt.count(req.open_at_end)} still open at the end", style="dim")
    requests.append(")")
    t.add_row("requests", requests)
    if not several_tiers(summary):
        if judged(summary):
            t.add_row("bound by", Text(head.bound_by() or "—"))
            t.add_row("confidence", Text(fmt.optional(head.confidence, confidence_text)))
        tier = head.result.tier if head.result is not None else None
        named = f"{tier.name} ({tier.criteria()})" if tier is not None else "none: measured only"
        t.add_row("tier", Text(named))
    t.add_row(
        "mode", Text(f"{summary.mode} · {summary.rigour} · {fmt.duration(summary.duration_s)}")
    )
    endpoint = Text(summary.endpoint_label or "—")
    if summary.model:
        endpoint.append(f"  {summary.model}", style="dim")
    if summary.simulator:
        endpoint.append(f"  {summary.simulator}", style=palette.WARN)
    t.add_row("endpoint", endpoint)
    t.add_row("stored", Text(f"run {summary.run_id or '—'} in {summary.store or '—'}"))


def notes_text(summary: RunSummary) -> Text:
    text = Text()
    for note in summary_notes(summary):
        style = "" if note.startswith("SIMULATED") else palette.WARN
        text.append("! ", style=palette.WARN).append(note + "\n", style=style)
    return text


def fill_levels(table: DataTable[Any], levels: Sequence[LevelRecord], *, tiered: bool = True,
                floor: float | None = None, limit: float | None = None, several: bool = False) -> None:
    """One row per level; the verdict only once a level was decided (see LevelRecord.shown_verdict).
    `several`: the run has several tiers: a tiers column with each one's verdict beside the
    verdict column (which, with P25, p95 and confidence, is the first tier's)."""
    table.clear(columns=True)
    first = ("N", "verdict", "tiers") if several else ("N", "verdict")
    table.add_columns(
        *first, "P25 tok/s", "p95 TTFT", "requests", "failed", "out tok/s", "cache", "power", "confidence",
        "why",
    )
    for lv in levels:
        shown = lv.shown_verdict(judged=tiered)
        conf = fmt.optional(lv.confidence, confidence_text) if tiered and lv.decided else "—"
        verdict = Text(palette.verdict_mark(shown) + " " + shown, style=palette.verdict_style(shown))
        table.add_row(
            Text(str(lv.n), justify="right"),
            *((verdict, tiers_cell(lv)) if several else (verdict,)),
            Text(fmt.speed(lv.speed_p25, floor=floor, unit=False), justify="right"),
            Text(fmt.seconds(lv.ttft_p95, limit=limit), justify="right"),
            Text(fmt.count(lv.requests), justify="right"),
            Text(fmt.count(lv.failed), justify="right"),
            Text(fmt.rate(lv.output_tok_s, ""), justify="right"),
            Text(fmt.percent(lv.cache_hit_ratio), justify="right"),
            Text(fmt.watts(lv.mean_power_w), justify="right"),
            Text(conf, justify="right"),
            Text(lv.reason, style="dim"),
        )


def tiers_cell(lv: LevelRecord) -> Text:
    """Each tier's verdict on a level (LevelRecord.tiers_text), in its colour; in brackets where
    that tier's search did not need the level."""
    text = Text()
    for k, v in enumerate(lv.tiers):
        word = v.word(compact=True)
        if k:
            text.append(" ")
        text.append(f"{v.short_name}:", style=palette.tier_color(k))
        text.append(word if v.used else f"({word})", style=palette.verdict_style(word) if v.used else "dim")
    return text


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
        self.several = several_tiers(summary)

    def compose(self) -> ComposeResult:
        s, h = self.summary, self.head
        yield Header(icon="◆")
        with VerticalScroll(id="result-body"):
            with Horizontal(id="result-top"):
                with Vertical(id="nstar-box"):
                    yield Static(self._nstar_caption(), id="nstar-caption")
                    if self.several and s.mode != "fixed":
                        yield Static(nstar_lines(s), id="nstar-tiers")
                    else:
                        yield Digits(_big_number(s, h), id="nstar")
                yield Static(headline_table(s, h), id="headline")
            if self.several:
                yield TierTable(s, id="tier-table")
                yield TierBars(s, id="tier-bars")
            yield Static(notes_text(s), id="notes")
            table: DataTable[Any] = DataTable(id="levels", zebra_stripes=True, cursor_type="row")
            table.border_title = "Levels"
            yield table
        yield KeysFooter()

    def _nstar_caption(self) -> Text:
        s, h = self.summary, self.head
        text = Text()
        if s.simulated:
            text.append(" SIMULATED ", style=palette.SIMULATED).append("\n")
        if s.mode == "fixed" and h.level is not None and self.several:
            text.append("N", style="bold").append(" held, fixed run: each tier's verdict below", style="dim")
        elif s.mode == "fixed" and h.level is not None:
            shown = h.level.shown_verdict(judged=judged(s))
            text.append("N", style="bold").append(" held, fixed run: ", style="dim")
            text.append(fixed_verdict(shown), style=palette.verdict_style(shown))
        elif self.several:
            what = " per tier" if s.mode == "search" else f" per tier, {s.mode} run"
            text.append("N*", style="bold").append(what, style="dim")
        else:
            text.append("N*", style="bold")
            text.append(" highest N in tier" if s.mode == "search" else f" {s.mode} run", style="dim")
        if s.status != "finished":
            text.append(f"  {s.status.upper()}", style="bold " + palette.WARN)
        return text

    def on_mount(self) -> None:
        self.title = f"agentperf · result {self.summary.run_id or ''}"
        tier = self.summary.result.tier if self.summary.result is not None else None
        fill_levels(
            self.query_one("#levels", DataTable),
            self.summary.levels,
            tiered=tier is not None,
            floor=tier.speed_tok_s if tier is not None else None,
            limit=tier.ttft_s if tier is not None else None,
            several=self.several,
        )

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
