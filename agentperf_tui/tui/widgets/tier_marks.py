"""How the live panels write a run's several SLO tiers: each tier's bracket and live verdict in
a few characters, and each tier's check against a live figure, in the tier's colour."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text

from agentperf_tui.core import fmt
from agentperf_tui.core.summary.level import LevelRecord, TierVerdict
from agentperf_tui.core.views import SearchView, TierBracketView
from agentperf_tui.tui import palette


def several(search: SearchView | None) -> bool:
    """The run is judged against more than one tier."""
    return search is not None and len(search.tiers) > 1


def short_name(tier: str) -> str:
    """A tier's S-T part ("100-5")."""
    return tier.rpartition("/")[2]


def tier_bracket_text(b: TierBracketView) -> str:
    """Where one tier's N* stands: "N*=32", "[32, 64)", "≥ 64", "< 8", "open"."""
    if b.done and b.result_n is not None:
        return f"N*={b.result_n}"
    lo, hi = b.best_pass, b.lowest_fail
    if lo is None and hi is None:
        return "open"
    if hi is None:
        return f"≥ {lo}"
    if lo is None:
        return f"< {hi}"
    return f"[{lo}, {hi})"


def live_word(v: TierVerdict | None) -> tuple[str, str]:
    """One tier's verdict on a level, as it stands: settled ("pass", "fail"), or leaning by the
    point estimates against the tier's thresholds ("~pass", "~fail": not settled yet); "·" when
    the level is not run for that tier's search, "…" before a request counts."""
    if v is None or not v.used:
        return "·", "dim"
    if v.verdict != "undecided":
        return v.verdict, palette.verdict_style(v.verdict)
    if v.requests == 0 or math.isnan(v.speed_p25) or math.isnan(v.ttft_p95):
        return "…", palette.OPEN
    leaning = v.speed_p25 >= v.speed_tok_s and v.ttft_p95 <= v.ttft_s
    word = "~pass" if leaning else "~fail"
    return word, "dim " + palette.verdict_style(word)


def verdict_marks(lv: LevelRecord) -> Text:
    """Each tier's verdict on a decided level as one mark (✓ ✗ …), in brackets-free compact form;
    a tier whose search did not need the level is dim."""
    text = Text(no_wrap=True)
    for v in lv.tiers:
        word = v.word(compact=True) if lv.decided else live_word(v)[0]
        mark = palette.verdict_mark(word) if word not in ("-", "·") else "·"
        text.append(mark, style=palette.verdict_style(word) if v.used else "dim")
    return text


def tier_checks(value: float, tiers: Sequence[TierBracketView], *, speed: bool) -> Text:
    """A live figure against each tier's threshold: "≥100✓ ≥250✗" (P25 speed floors) or
    "≤5s✓ ≤1s✗" (p95 TTFT limits), each threshold in its tier's colour."""
    text = Text(no_wrap=True)
    for k, b in enumerate(tiers):
        limit = b.speed_floor if speed else b.ttft_limit
        if not math.isfinite(limit):
            continue
        if k:
            text.append(" ")
        mark = f"≥{fmt.limit_text(limit)}" if speed else f"≤{fmt.limit_text(limit)}s"
        text.append(mark, style=palette.tier_color(k))
        if not math.isnan(value):
            ok = value >= limit if speed else value <= limit
            text.append("✓" if ok else "✗", style=palette.PASS if ok else palette.FAIL)
    return text
