"""The outcome of a search, sweep or fixed-N run: N*, its normalisations, and every level."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from agentperf_tui.core.search.normalise import normalise
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.record import LevelRecord
from agentperf_tui.core.search.strategy import Bracket


@dataclass(frozen=True, slots=True)
class SearchResult:
    mode: str
    rigour: str
    tier: str | None
    speed_floor: float | None
    ttft_limit: float | None
    n_star: int | None
    """Highest N that met the tier (0: none did; None: a fixed run that failed or had no tier)."""
    agents_per_gpu: float | None
    agents_per_mw: float | None
    power_w: float | None
    """Mean GPU power (all GPUs) over N*'s measured window, the per-MW divisor."""
    power_basis: str | None
    """"measured", "simulated" or "nominal" (a profile figure, not measured); None: no figure."""
    power_note: str
    gpu_count: int | None
    first_fail_n: int | None
    """Lowest N that failed (None when none did)."""
    failing_criterion: str | None
    """What broke first_fail_n: "speed", "ttft" or "speed+ttft"."""
    confidence: float | None
    """The weaker of the confidences of N*'s level and the first failing level."""
    converged: bool
    capped: bool
    published_rules: bool
    notes: tuple[str, ...]
    levels: tuple[LevelRecord, ...]
    started_at: float
    ended_at: float

    @property
    def duration_s(self) -> float:
        return self.ended_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in self.__slots__:
            v = getattr(self, k)
            if k == "levels":
                v = [lv.to_dict() for lv in v]
            elif k == "notes":
                v = list(v)
            elif isinstance(v, float) and not math.isfinite(v):
                v = None
            out[k] = v
        out["duration_s"] = self.duration_s
        return out


def build_result(
    plan: SearchPlan, bracket: Bracket, records: list[LevelRecord], started_at: float, ended_at: float
) -> SearchResult:
    counted = [r for r in records if r.outcome != "discarded"]
    tier = plan.tier
    notes = list(bracket.notes)
    n_star: int | None
    if tier is None:
        n_star = None
        notes.append("no SLO tier: levels measured without a verdict")
    elif plan.mode == "fixed":
        n_star = plan.fixed_n if counted and all(r.passed for r in counted) else None
    elif plan.mode == "sweep":
        fails = [r.n for r in counted if not r.passed]
        lowest_fail = min(fails, default=None)
        ok = [r.n for r in counted if r.passed and (lowest_fail is None or r.n < lowest_fail)]
        n_star = max(ok, default=0)
        above = sorted({r.n for r in counted if r.passed and lowest_fail is not None and r.n > lowest_fail})
        if above:
            notes.append(f"not monotonic: N={above} passed above the failing N={lowest_fail}")
    else:
        n_star = bracket.lo
    fail_recs = [r for r in counted if not r.passed and tier is not None]
    first_fail = min(fail_recs, key=lambda r: (r.n, -r.index), default=None)
    star_rec = None
    if n_star:
        star_recs = [r for r in counted if r.n == n_star and r.passed]
        star_rec = star_recs[-1] if star_recs else None
    norm = normalise(
        n_star,
        plan.gpu_count,
        star_rec.mean_power_w if star_rec else None,
        power_simulated=star_rec.power_simulated if star_rec else False,
        power_note=star_rec.power_note if star_rec else None,
        nominal_gpu_power_w=plan.nominal_gpu_power_w,
    )
    confs = [r.confidence for r in (star_rec, first_fail) if r is not None and r.confidence is not None]
    if any(r.verdict == "undecided" for r in counted):
        notes.append("some levels ended undecided; the search took their point estimates" if
                     plan.undecided_as == "estimate" else "some levels ended undecided and counted as fails")
    return SearchResult(
        mode=plan.mode,
        rigour=plan.rigour,
        tier=tier.name if tier else None,
        speed_floor=tier.speed_tok_s if tier else None,
        ttft_limit=tier.ttft_s if tier else None,
        n_star=n_star,
        agents_per_gpu=norm.agents_per_gpu,
        agents_per_mw=norm.agents_per_mw,
        power_w=norm.power_w,
        power_basis=norm.power_basis,
        power_note=norm.note,
        gpu_count=plan.gpu_count,
        first_fail_n=first_fail.n if first_fail else None,
        failing_criterion=first_fail.failing_criterion if first_fail else None,
        confidence=min(confs) if confs else None,
        converged=plan.mode != "search" or bracket.capped or _converged(plan, bracket),
        capped=bracket.capped,
        published_rules=plan.published_rules,
        notes=tuple(notes),
        levels=tuple(records),
        started_at=started_at,
        ended_at=ended_at,
    )


def _converged(plan: SearchPlan, b: Bracket) -> bool:
    if b.hi is None:
        return False
    return b.hi - b.lo <= max(plan.tolerance_abs, math.floor(plan.tolerance_frac * b.lo))
