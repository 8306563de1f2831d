"""The concurrency search: every level tried, pass/fail, the bracket narrowing towards N*.

A fixed run or a sweep uses its own words (the level it holds, the levels measured), never the
search's; a run without a tier shows what was measured, without verdicts.
"""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.text import Text

from agentperf_tui.core import fmt
from agentperf_tui.core.search.confidence_text import confidence_text
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.tiers import tiers_label
from agentperf_tui.core.views import SearchView, Snapshot
from agentperf_tui.tui import palette
from agentperf_tui.tui.charts import TierBracket, bracket, brackets
from agentperf_tui.tui.history import History
from agentperf_tui.tui.widgets.panel import Panel
from agentperf_tui.tui.widgets.tier_marks import (
    live_word,
    several,
    short_name,
    tier_bracket_text,
    verdict_marks,
)

NO_TIER = "none"
"""SearchView.tier of a run without a tier."""


def judged(search: SearchView) -> bool:
    """The run has a tier to judge its levels against."""
    return search.tier != NO_TIER


def bracket_text(search: SearchView, target_n: int | None = None) -> str:
    """Where the run stands, in the words of its mode."""
    if search.mode == "fixed":
        n = target_n if target_n is not None else (search.levels[-1].n if search.levels else None)
        head = f"fixed N={n}" if n is not None else "fixed N"
        if not judged(search):
            return f"{head} · no tier: measured only"
        decided = [lv for lv in search.levels if lv.decided]
        if not decided:
            return f"{head} · verdict pending"
        held = decided[-1].passed
        return f"{head} · tier {'held' if held else 'missed'}"
    if search.mode == "sweep":
        done = sum(1 for lv in search.levels if lv.decided)
        return f"sweep · {fmt.plural(done, 'level')} measured"
    if several(search):
        return "N* " + " · ".join(f"{short_name(b.tier)} {tier_bracket_text(b)}" for b in search.tiers)
    if search.done and search.result_n is not None:
        return f"N* = {search.result_n}"
    lo, hi = search.best_pass, search.lowest_fail
    if lo is None and hi is None:
        return "N* not bracketed yet"
    if hi is None:
        return f"N* ≥ {lo}"
    if lo is None:
        return f"N* < {hi}"
    return f"N* in [{lo}, {hi})"


PHASES = {"transition": "joining", "warmup": "warm-up", "measuring": "measure", "settled": "done"}
OUTCOMES = {"measured": "done", "skipped": "skipped", "ended": "ended", "discarded": "discarded"}


def level_clock(lv: LevelRecord, now: float) -> float:
    """The one clock of a level, the same on every line that shows it: while it measures, how
    long its measured window has run (the figure its live reason counts too); before that, time
    since it started; once ended, how long it took in all."""
    if lv.ended_at is not None:
        return max(0.0, lv.ended_at - lv.started_at)
    if lv.phase == "measuring" and lv.measure_from is not None and now >= lv.measure_from:
        return now - lv.measure_from
    return max(0.0, now - lv.started_at)


def level_lines(
    levels: tuple[LevelRecord, ...],
    rows: int,
    now: float,
    width: int,
    search: SearchView | None = None,
    *,
    live_reason: str | None = None,
) -> Text:
    """Newest level first: N, verdict (once decided), phase and time, P25 speed, p95 TTFT,
    requests, confidence; columns dropped from the right when the panel is narrow. With several
    tiers, each tier's verdict too: a mark per tier, or (wide) `LevelRecord.tiers_text()`; the
    other columns are the first tier's."""
    wide = width >= 58
    tiers = search is not None and several(search)
    marks = tiers and not wide and width >= 37 + len(search.tiers if search is not None else ())
    tiered = search is None or judged(search)
    floor = search.speed_floor if search is not None and tiered else None
    limit = search.ttft_limit if search is not None and tiered else None
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    head = f"{'N':>5}   {'phase':<12}{'P25':>6} {'p95':>8}"
    if marks:
        head += "  tiers"
    if wide:
        head += f" {'reqs':>7} {'conf':>5}  " + ("tiers · why" if tiers else "why")
    text.append(head, style="dim")
    for lv in list(reversed(levels))[: max(0, rows)]:
        shown = lv.shown_verdict(judged=tiered)
        phase = PHASES.get(lv.phase, lv.phase) if lv.outcome is None else OUTCOMES[lv.outcome]
        text.append("\n")
        text.append(f"{lv.n:>5} ", style="bold")
        text.append(palette.verdict_mark(shown) + " ", style=palette.verdict_style(shown))
        text.append(f"{phase} {fmt.duration(level_clock(lv, now))}".ljust(12)[:12])
        speed_style = palette.verdict_style(lv.speed_verdict) if lv.decided and tiered else ""
        ttft_style = palette.verdict_style(lv.ttft_verdict) if lv.decided and tiered else ""
        text.append(f"{fmt.speed(lv.speed_p25, floor=_finite(floor), unit=False):>6}", style=speed_style)
        text.append(f" {fmt.seconds(lv.ttft_p95, limit=_finite(limit)):>8}", style=ttft_style)
        if marks:
            text.append("  ").append_text(verdict_marks(lv))
        if wide:
            conf = fmt.optional(lv.confidence, confidence_text) if tiered else ""
            text.append(f" {fmt.count(lv.requests):>7} {conf:>5}", style="dim")
            if tiers and lv.decided:
                text.append(f"  {lv.tiers_text()}")
            reason = live_reason if lv.outcome is None and live_reason is not None else lv.reason
            if reason:
                text.append(f"  {reason}", style="dim")
    return text


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def fixed_progress(level: LevelRecord, now: float, duration_s: float | None) -> str:
    """A fixed run's open level in its own words (the level's cap is a search's business)."""
    clock = fmt.duration(level_clock(level, now))
    if duration_s is not None:
        return f"{PHASES.get(level.phase, level.phase)} · {clock} of a {fmt.duration(duration_s)} run"
    return f"{PHASES.get(level.phase, level.phase)} · {clock}, until the verdict settles"


class SearchPanel(Panel):
    def __init__(self, *, id: str | None = "search", duration_s: float | None = None) -> None:
        super().__init__("Concurrency search", id=id)
        self.duration_s = duration_s
        """A fixed run's duration (None: until its verdict settles)."""
        self.clock_t: float | None = None
        """Run time to draw at (the dashboard freezes it while the run is paused)."""

    def draw(self, snap: Snapshot, history: History, width: int, height: int) -> RenderableType:
        search = snap.search
        if search is None:
            return Text(f"fixed N = {snap.target_n}", style="dim")
        now = self.clock_t if self.clock_t is not None else snap.t
        names = {"search": "Concurrency search", "fixed": "Fixed N", "sweep": "Concurrency sweep"}
        self.set_title(f"{names.get(search.mode, search.mode)} · {search.rigour}")
        if several(search):
            self.set_subtitle(f"tiers {tiers_label([b.tier for b in search.tiers])}")
        else:
            self.set_subtitle(f"tier {search.tier}" if judged(search) else "no SLO tier")
        head = Text(no_wrap=True, overflow="ellipsis")
        if several(search) and search.mode == "search":
            done = sum(1 for b in search.tiers if b.done)
            head.append(f"{len(search.tiers)} tiers on shared levels · {done} found", style="bold")
        else:
            head.append(bracket_text(search, snap.target_n), style="bold")
        level = snap.level
        live_reason = None
        if search.mode == "fixed" and level is not None and level.outcome is None:
            live_reason = fixed_progress(level, now, self.duration_s)
            head.append(f"  {live_reason}", style="dim")
        elif level is not None and level.outcome is None and level.confidence is not None and judged(search):
            head.append(f"  N={level.n} {confidence_text(level.confidence)} sure", style="dim")
        elif level is not None and level.reason:
            head.append(f"  {level.reason}", style="dim")
        parts: list[RenderableType] = [head]
        show_bracket = height >= 4 and search.mode == "search"
        if show_bracket and several(search):
            parts.extend(tier_lines(search, snap.level, width, height - 2))
        elif show_bracket:
            marks = [(lv.n, _counted(lv)) for lv in search.levels if lv.outcome != "discarded"]
            parts.append(bracket(marks, search.best_pass, search.lowest_fail, width))
        rows = height - sum(p.plain.count("\n") + 1 if isinstance(p, Text) else 1 for p in parts) - 1
        if rows >= 1 and search.levels:
            parts.append(level_lines(search.levels, rows, now, width, search, live_reason=live_reason))
        return Group(*parts)


def _counted(lv: LevelRecord, k: int | None = None) -> str:
    """What the search took from a level for the bracket chart (for the run's k-th tier): pass,
    fail, or open."""
    if not lv.decided:
        return "open"
    if k is not None and k < len(lv.tiers):
        return "pass" if lv.tiers[k].passed else "fail"
    return "pass" if lv.passed else "fail"


def tier_lines(search: SearchView, level: LevelRecord | None, width: int, rows: int) -> list[Text]:
    """Every tier's bracket converging, one line each on one shared axis: the tier (in its
    colour), the levels as that tier judged them and its bracket, where its N* stands and its live
    verdict on the open level; then the Ns tried. Fewer rows than tiers: the lines without the
    chart."""
    names = [short_name(b.tier) for b in search.tiers]
    name_w = max(len(n) for n in names)
    stands = [tier_bracket_text(b) for b in search.tiers]
    open_level = level if level is not None and level.outcome is None else None
    words = [live_word(open_level.for_tier(b.tier)) if open_level else ("", "") for b in search.tiers]
    right_w = max(len(t) for t in stands) + (max(len(w) for w, _ in words) + 1 if open_level else 0)
    chart_w = width - name_w - right_w - 2
    counted = [lv for lv in search.levels if lv.outcome != "discarded"]
    out: list[Text] = []
    charts: list[Text] = []
    labels: Text | None = None
    if chart_w >= 10 and rows > len(search.tiers):
        tiers = [
            TierBracket([(lv.n, _counted(lv, k)) for lv in counted], b.best_pass, b.lowest_fail)
            for k, b in enumerate(search.tiers)
        ]
        charts, labels = brackets(tiers, chart_w)
    for k, b in enumerate(search.tiers):
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(names[k].rjust(name_w) + " ", style=palette.tier_color(k))
        if charts:
            line.append_text(charts[k]).append(" ")
        line.append(stands[k].ljust(max(len(t) for t in stands)), style="bold" if b.done else "")
        word, style = words[k]
        if word:
            line.append(" " + word, style=style)
        out.append(line)
    if labels is not None:
        out.append(Text(" " * (name_w + 1), no_wrap=True).append_text(labels))
    return out
