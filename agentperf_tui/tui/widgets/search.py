"""The concurrency search: every level tried, pass/fail, the bracket narrowing towards N*."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.views import SearchView, Snapshot
from agentperf_tui.tui import format as fmt
from agentperf_tui.tui import palette
from agentperf_tui.tui.charts import bracket
from agentperf_tui.tui.history import History
from agentperf_tui.tui.widgets.panel import Panel


def bracket_text(search: SearchView) -> str:
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


def level_lines(levels: tuple[LevelRecord, ...], rows: int, now: float, width: int) -> Text:
    """Newest level first: N, verdict, phase and time, P25 speed, p95 TTFT, requests, confidence;
    columns dropped from the right when the panel is narrow."""
    wide = width >= 58
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    head = f"{'N':>5}   {'phase':<12}{'P25':>6} {'p95':>8}"
    if wide:
        head += f" {'reqs':>7} {'conf':>5}  why"
    text.append(head, style="dim")
    for lv in list(reversed(levels))[: max(0, rows)]:
        end = lv.ended_at if lv.ended_at is not None else now
        phase = PHASES.get(lv.phase, lv.phase)
        text.append("\n")
        text.append(f"{lv.n:>5} ", style="bold")
        text.append(palette.verdict_mark(lv.verdict) + " ", style=palette.verdict_style(lv.verdict))
        text.append(f"{phase} {fmt.duration(end - lv.started_at)}".ljust(12)[:12])
        text.append(f"{fmt.ratio(lv.speed_p25, 0):>6}", style=palette.verdict_style(lv.speed_verdict))
        text.append(f" {fmt.seconds(lv.ttft_p95):>8}", style=palette.verdict_style(lv.ttft_verdict))
        if wide:
            conf = fmt.confidence(lv.confidence) if lv.confidence is not None else ""
            text.append(f" {fmt.count(lv.requests):>7} {conf:>5}", style="dim")
            if lv.reason:
                text.append(f"  {lv.reason}", style="dim")
    return text


class SearchPanel(Panel):
    def __init__(self, *, id: str | None = "search") -> None:
        super().__init__("Concurrency search", id=id)

    def draw(self, snap: Snapshot, history: History, width: int, height: int) -> RenderableType:
        search = snap.search
        if search is None:
            return Text(f"fixed N = {snap.target_n}, no SLO tier: nothing to search", style="dim")
        self.border_title = f"Concurrency {search.mode} · {search.rigour}"
        self.border_subtitle = f"tier {search.tier}"
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(bracket_text(search), style="bold")
        level = snap.level
        if level is not None and level.confidence is not None and level.verdict == "undecided":
            head.append(f"  N={level.n} {fmt.confidence(level.confidence)} sure", style="dim")
        elif level is not None and level.reason:
            head.append(f"  {level.reason}", style="dim")
        parts: list[RenderableType] = [head]
        if height >= 4:
            parts.append(
                bracket(
                    [(lv.n, lv.verdict) for lv in search.levels], search.best_pass, search.lowest_fail, width
                )
            )
        rows = height - len(parts) - (1 if height >= 4 else 0) - 1
        if rows >= 1 and search.levels:
            parts.append(level_lines(search.levels, rows, snap.t, width))
        return Group(*parts)
