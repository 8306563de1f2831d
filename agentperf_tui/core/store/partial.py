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


def rebuilt_summary(info: RunInfo, config: dict[str, Any], levels: list[LevelRecord]) -> RunSummary:
    passing = [lv for lv in levels if lv.decided and lv.passed]
    best = max(passing, key=lambda lv: (lv.n, lv.index), default=None)
    results: tuple[TierResult, ...] = ()
    if best is not None:
        results = (
            TierResult(
                tier=configured_tier(config),
                n_star=best.n,
                level_n=best.n,
                level_index=best.index,
                gpu_count=config.get("gpu_count"),
                notes=("provisional: the run never finished; this is the best passing level so far",),
            ),
        )
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
