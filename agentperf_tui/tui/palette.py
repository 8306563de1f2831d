"""The few colours the console uses, chosen to read on a dark terminal without shouting."""

from __future__ import annotations

WAITING = "#d7af5f"
STREAMING = "#5faf87"
IN_TOOL = "#5f87af"
TARGET = "#bcbcbc"
P50 = "#8a8a8a"
P95 = "#5fafd7"
P99 = "#af87d7"
LIMIT = "#d75f5f"
PASS = "#5faf5f"
FAIL = "#d75f5f"
OPEN = "#d7af5f"
THROUGHPUT = "#87afaf"
POWER = "#d7875f"
SIMULATED = "bold #1c1c1c on #d7af5f"
DIM = "#767676"
WARN = "#d7af5f"

GPU_LINES = ("#d7875f", "#87afd7", "#afd787", "#d787af", "#87d7d7", "#d7d787", "#af87ff", "#ff8787")


def _base(word: str) -> str:
    """ "~pass (skipped)" -> "pass", "fail/speed" -> "fail": the verdict a shown word stands for."""
    return word.lstrip("~").split(" ", 1)[0].split("/", 1)[0]


def verdict_style(verdict: str) -> str:
    """The colour of a verdict, or of what a level shows instead (LevelRecord.shown_verdict):
    open levels in amber, discarded or unjudged ones dim."""
    base = _base(verdict)
    return {"pass": PASS, "fail": FAIL, "open": OPEN, "undecided": OPEN}.get(base, DIM)


def verdict_mark(verdict: str) -> str:
    return {"pass": "✓", "fail": "✗", "open": "…", "undecided": "…", "discarded": "⟲"}.get(
        _base(verdict), "·"
    )

TIER_COLORS = ("#d75f5f", "#d7af5f", "#5fd7af", "#d787d7", "#87afff", "#afd75f")
"""One colour per SLO tier of a run, in the run's order, the same on every panel (the first is
the limit colour: a single-tier run looks as it always has)."""


def tier_color(k: int) -> str:
    return TIER_COLORS[k % len(TIER_COLORS)]
