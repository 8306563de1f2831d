"""The few summary/config keys the store reads back for listings and comparisons.

The engine's summary is stored verbatim; these keys are understood when present, at the top
level or inside `summary["result"]` (the search result): `result_n` or `n_star` (or `n` inside
`result`; N*, int, 0 or null when nothing passed), `agents_per_gpu`, `agents_per_mw`, `power_w`,
`power_basis`, `tier` (a name, or a dict with `name`, or `speed_tok_s`/`ttft_s` plus optional
`family`, `version`, `label`); and `gpu_count` (or `gpus`) at the top level. Where a key is
missing, the value is derived from the levels (N* = highest passing N) or the config (`tier`,
`gpu_count`), or left unknown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from agentperf_tui.core.observer import LevelView
from agentperf_tui.core.search.tiers import CUSTOM_TIER_RE, SloTier


def tier_label(summary: Mapping[str, Any] | None, config: Mapping[str, Any] | None) -> str | None:
    """The tier's name as the search module writes it (`custom/S-T`, `family@version/S-T`), from
    the summary's `result.tier`, else its `tier`, else the config's `tier`; the same tier reads
    the same whichever way it was stored, so a comparison never flags it as a difference."""
    result = (summary or {}).get("result")
    for source in (result if isinstance(result, Mapping) else None, summary, config):
        if not source or source.get("tier") is None:
            continue
        tier = source["tier"]
        if not isinstance(tier, Mapping):
            return _tier_name(str(tier))
        if tier.get("name"):
            return _tier_name(str(tier["name"]))
        speed = finite_or_none(tier.get("speed_tok_s", tier.get("speed")))
        ttft = finite_or_none(tier.get("ttft_s", tier.get("ttft")))
        if speed is None or ttft is None:
            continue
        family, version = tier.get("family") or None, tier.get("version") or None
        name = SloTier(speed, ttft, family=family, version=version).name
        return f"{tier['label']} ({name})" if tier.get("label") else name
    return None


def _tier_name(text: str) -> str:
    """`S/T` as typed becomes `custom/S-T`; names are kept as they are."""
    m = CUSTOM_TIER_RE.match(text)
    return SloTier(float(m.group(1)), float(m.group(2))).name if m else text.strip()


def summary_value(summary: Mapping[str, Any] | None, *names: str) -> tuple[bool, Any]:
    """(found, value) of the first of `names` at the top level of the summary or in its `result`."""
    if not summary:
        return False, None
    result = summary.get("result")
    for source in (summary, result if isinstance(result, Mapping) else {}):
        for name in names:
            if name in source:
                return True, source[name]
    return False, None


def best_pass(levels: Sequence[LevelView]) -> int | None:
    """Highest N among passing levels, None when no level passed."""
    passing = [lv.n for lv in levels if lv.verdict == "pass"]
    return max(passing) if passing else None


def summary_result_n(summary: Mapping[str, Any] | None) -> tuple[bool, int | None]:
    """(found, N*) as the summary states it; `"result": null` states that nothing passed."""
    found, value = summary_value(summary, "result_n", "n_star")
    if not found and summary and "result" in summary:
        result = summary["result"]
        found, value = True, result.get("n") if isinstance(result, Mapping) else result
    n = finite_or_none(value)
    return found, None if n is None else int(n)


def result_n(summary: Mapping[str, Any] | None, levels: Sequence[LevelView]) -> int | None:
    found, n = summary_result_n(summary)
    return n if found else best_pass(levels)


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
        value = source.get("gpu_count", source.get("gpus"))
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
