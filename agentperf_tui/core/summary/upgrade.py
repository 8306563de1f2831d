"""Reading a stored summary of any version as today's RunSummary.

Version 1 (no "schema" key) was the engine's untyped dict: top-level run fields, whole-run
percentiles at the top level, the live view of every level in "levels", and the search result
(with its own copy of the levels) in "result". Version 2 is `RunSummary`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from agentperf_tui.core.summary.figures import finite_or_none
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import SUMMARY_SCHEMA, RunSummary
from agentperf_tui.core.summary.result import TierResult
from agentperf_tui.core.tiers import SloTier


class SummaryError(ValueError):
    """A stored summary cannot be read; the message says which field is wrong."""


def read_summary(data: Mapping[str, Any] | None) -> RunSummary | None:
    """A stored summary (parsed JSON) as a RunSummary; None for None."""
    if data is None:
        return None
    try:
        if data.get("schema") == SUMMARY_SCHEMA:
            return RunSummary.model_validate(data)
        if "schema" in data:
            raise SummaryError(f"summary schema {data['schema']!r} is not one this agentperf-tui reads")
        return RunSummary.model_validate(_from_v1(data))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise SummaryError(f"stored summary field '{where}': {first.get('msg')}") from None


def _tier_v1(summary: Mapping[str, Any], result: Mapping[str, Any]) -> SloTier | None:
    tier = summary.get("tier")
    if isinstance(tier, Mapping):
        speed, ttft = finite_or_none(tier.get("speed_tok_s")), finite_or_none(tier.get("ttft_s"))
        if speed is not None and ttft is not None:
            keep = ("family", "version", "date", "source", "url", "label")
            return SloTier(speed, ttft, **{k: tier.get(k) for k in keep})
    speed, ttft = finite_or_none(result.get("speed_floor")), finite_or_none(result.get("ttft_limit"))
    if speed is not None and ttft is not None:
        return SloTier(speed, ttft)
    return None


def _levels_v1(summary: Mapping[str, Any], result: Mapping[str, Any]) -> list[LevelRecord]:
    raw = result.get("levels") or summary.get("levels") or []
    levels = []
    for i, lv in enumerate(raw):
        if not isinstance(lv, Mapping):
            continue
        d = dict(lv)
        d.setdefault("index", i)
        if d.get("outcome") is None and d.get("phase", "settled") == "settled":
            d["outcome"] = "measured"
        d["reason"] = d.get("reason") or ""
        levels.append(LevelRecord.model_validate(d))
    return levels


def _from_v1(summary: Mapping[str, Any]) -> dict[str, Any]:
    result = summary.get("result") if isinstance(summary.get("result"), Mapping) else {}
    assert isinstance(result, Mapping)
    levels = _levels_v1(summary, result)
    results: list[TierResult] = []
    if result:
        n_star = result.get("n_star")
        level_n = n_star or (levels[-1].n if summary.get("mode") == "fixed" and levels else None)
        at_n = [lv for lv in levels if lv.n == level_n and lv.decided]
        chosen = [lv for lv in at_n if lv.verdict == "pass"] or at_n
        results.append(
            TierResult(
                tier=_tier_v1(summary, result),
                n_star=n_star,
                level_n=level_n,
                level_index=chosen[-1].index if chosen else None,
                gpu_count=result.get("gpu_count"),
                agents_per_gpu=finite_or_none(result.get("agents_per_gpu")),
                agents_per_mw=finite_or_none(result.get("agents_per_mw")),
                power_w=finite_or_none(result.get("power_w")),
                power_basis=result.get("power_basis"),
                power_note=result.get("power_note") or "",
                first_fail_n=result.get("first_fail_n"),
                failing_criterion=result.get("failing_criterion"),
                confidence=finite_or_none(result.get("confidence")),
                converged=bool(result.get("converged")),
                capped=bool(result.get("capped")),
                notes=tuple(str(n) for n in result.get("notes") or ()),
            )
        )
    whole = {
        "ttft_s": summary.get("ttft_s") or {},
        "output_speed_tok_s": summary.get("output_speed_tok_s") or {},
        "client_lag_s": summary.get("client_lag_s") or {},
    }
    keep = (
        "run_id", "status", "endpoint", "model", "simulated", "comparable", "mode", "rigour", "gpu_count",
        "duration_s", "requests", "output_tokens", "usage_mismatches", "length_mismatches", "store",
    )  # fmt: skip
    out = {k: summary[k] for k in keep if summary.get(k) is not None}
    out.update(
        schema=SUMMARY_SCHEMA,
        whole_run=whole,
        levels=levels,
        results=results,
        published_rules=bool(result.get("published_rules")),
    )
    return out
