"""The summary of a run that never wrote its own (killed, crashed, or still going), rebuilt from
what the store holds: its configuration, its levels so far. Marked `final=False`; its N*, when a
level passed, is the best passing level so far and says so."""

from __future__ import annotations

from typing import Any

from agentperf_tui.core.store.models import RunInfo
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import RunSummary, Status
from agentperf_tui.core.summary.result import TierResult
from agentperf_tui.core.tiers import SloTier, TierSpecError, parse_tier


def configured_tier(config: dict[str, Any]) -> SloTier | None:
    """The tier a stored run was configured with (its resolved form, else its name)."""
    for key in ("tier_resolved", "tier"):
        value = config.get(key)
        if isinstance(value, dict) and value.get("speed_tok_s") and value.get("ttft_s"):
            fields = ("family", "version", "date", "source", "url", "label")
            return SloTier(
                float(value["speed_tok_s"]), float(value["ttft_s"]), **{k: value.get(k) for k in fields}
            )
        if isinstance(value, str) and value:
            try:
                return parse_tier(value)
            except (TierSpecError, ValueError):
                return None
    return None


def configured_tiers(config: dict[str, Any]) -> tuple[SloTier, ...]:
    """Every tier a stored run was configured with, in its order (one for a single-tier run,
    none without a tier)."""
    listed = config.get("tiers_resolved")
    if isinstance(listed, list) and listed:
        tiers = [configured_tier({"tier_resolved": item}) for item in listed]
        return tuple(t for t in tiers if t is not None)
    tier = configured_tier(config)
    return (tier,) if tier is not None else ()


def rebuilt_summary(info: RunInfo, config: dict[str, Any], levels: list[LevelRecord]) -> RunSummary:
    tiers: tuple[SloTier | None, ...] = configured_tiers(config) or (None,)
    found = [_provisional(tier, k, config, levels) for k, tier in enumerate(tiers)]
    # one entry per tier once any tier has a passing level (none has an answer before that)
    results = tuple(
        r if r is not None else TierResult(tier=tier, n_star=None, gpu_count=config.get("gpu_count"))
        for r, tier in zip(found, tiers, strict=True)
    ) if any(r is not None for r in found) else ()
    mode = config.get("mode")
    rigour = config.get("rigour")
    status: Status = "incomplete"
    if info.status in ("running", "finished", "aborted", "crashed"):
        status = info.status  # type: ignore[assignment]
    return RunSummary(
        run_id=info.id,
        status=status,
        final=False,
        started_wall=info.started_wall,
        endpoint=info.endpoint,
        model=info.model,
        simulated=info.simulated,
        comparable=bool(config.get("comparable", True)),
        mode=mode if mode in ("search", "fixed", "sweep") else "fixed",
        rigour=rigour if rigour in ("strict", "fast") else "fast",
        gpu_count=config.get("gpu_count"),
        levels=tuple(levels),
        results=results,
    )


def _provisional(
    tier: SloTier | None, k: int, config: dict[str, Any], levels: list[LevelRecord]
) -> TierResult | None:
    """The best passing level so far for one tier (the k-th of the run), or None."""

    def passed(lv: LevelRecord) -> bool:
        if tier is None or not lv.tiers:
            return lv.passed if k == 0 else False
        v = lv.for_tier(tier.name)
        return v is not None and v.passed

    passing = [lv for lv in levels if lv.decided and passed(lv)]
    best = max(passing, key=lambda lv: (lv.n, lv.index), default=None)
    if best is None:
        return None
    return TierResult(
        tier=tier,
        n_star=best.n,
        level_n=best.n,
        level_index=best.index,
        gpu_count=config.get("gpu_count"),
        notes=("provisional: the run never finished; this is the best passing level so far",),
    )
