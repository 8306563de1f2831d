"""The few summary/config keys the store reads back for listings and comparisons.

The engine's summary is stored verbatim; these keys are understood when present:
`result_n` (N*, int or null), `tier` (a name, or {"name"|"speed", "ttft"}), `gpus` (GPU count),
`agents_per_gpu`, `agents_per_mw`. Where a key is missing, the value is derived from the levels
(N* = highest passing N) or the config (`tier`, `gpus`), or left unknown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from agentperf_tui.core.observer import LevelView


def tier_label(*sources: Mapping[str, Any] | None) -> str | None:
    """A short tier name from the first source that has a `tier` key."""
    for source in sources:
        if not source or source.get("tier") is None:
            continue
        tier = source["tier"]
        if isinstance(tier, Mapping):
            if tier.get("name"):
                return str(tier["name"])
            speed, ttft = tier.get("speed", tier.get("speed_floor")), tier.get("ttft", tier.get("ttft_limit"))
            if speed is not None and ttft is not None:
                return f"{float(speed):g} tok/s, {float(ttft):g} s"
        return str(tier)
    return None


def best_pass(levels: Sequence[LevelView]) -> int | None:
    """Highest N among passing levels, None when no level passed."""
    passing = [lv.n for lv in levels if lv.verdict == "pass"]
    return max(passing) if passing else None


def result_n(summary: Mapping[str, Any] | None, levels: Sequence[LevelView]) -> int | None:
    if summary is not None and "result_n" in summary:
        value = summary["result_n"]
        return None if value is None else int(value)
    return best_pass(levels)


def level_at(levels: Sequence[LevelView], n: int | None) -> LevelView | None:
    """The last passing level at concurrency `n` (the one that decided N*), else the last at `n`."""
    if n is None:
        return None
    at_n = [lv for lv in levels if lv.n == n]
    passing = [lv for lv in at_n if lv.verdict == "pass"]
    chosen = passing or at_n
    return chosen[-1] if chosen else None


def gpu_count(summary: Mapping[str, Any] | None, config: Mapping[str, Any], seen_gpus: int) -> int | None:
    for source in (summary or {}, config):
        value = source.get("gpus", source.get("gpu_count"))
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return int(value)
        if isinstance(value, list | tuple) and value:
            return len(value)
    return seen_gpus or None


def finite_or_none(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
