"""The outcome of a search, sweep or fixed-N run: every level, and the answer for each tier."""

from __future__ import annotations

from dataclasses import dataclass

from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.strategy import Bracket, converged
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.normalise import normalise
from agentperf_tui.core.summary.result import TierResult


@dataclass(frozen=True, slots=True)
class SearchResult:
    results: tuple[TierResult, ...]
    """One per tier the run was judged against (one, without a verdict, for a run with no tier)."""
    levels: tuple[LevelRecord, ...]
    mode: str
    rigour: str
    published_rules: bool
    started_at: float
    ended_at: float

    @property
    def primary(self) -> TierResult:
        """The result for the run's first tier."""
        return self.results[0]

    @property
    def duration_s(self) -> float:
        return self.ended_at - self.started_at


def build_result(
    plan: SearchPlan,
    bracket: Bracket,
    records: list[LevelRecord],
    started_at: float,
    ended_at: float,
    *,
    counted_from: int = 0,
) -> SearchResult:
    """The result of `plan`, judged on `records[counted_from:]` (earlier levels stay listed)."""
    return SearchResult(
        results=(tier_result(plan, bracket, records[counted_from:]),),
        levels=tuple(records),
        mode=plan.mode,
        rigour=plan.rigour,
        published_rules=plan.published_rules,
        started_at=started_at,
        ended_at=ended_at,
    )


def tier_result(plan: SearchPlan, bracket: Bracket, records: list[LevelRecord]) -> TierResult:
    counted = [r for r in records if r.decided]
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
    level_n = plan.fixed_n if plan.mode == "fixed" else n_star
    at_n = [r for r in counted if r.n == level_n]
    passing_at_n = [r for r in at_n if r.passed]
    star_rec = passing_at_n[-1] if n_star and passing_at_n else None
    level_rec = star_rec or (at_n[-1] if at_n else None)
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
    return TierResult(
        tier=tier,
        n_star=n_star,
        level_n=level_rec.n if level_rec else None,
        level_index=level_rec.index if level_rec else None,
        gpu_count=plan.gpu_count,
        agents_per_gpu=norm.agents_per_gpu,
        agents_per_mw=norm.agents_per_mw,
        power_w=norm.power_w,
        power_basis=norm.power_basis,
        power_note=norm.note,
        first_fail_n=first_fail.n if first_fail else None,
        failing_criterion=first_fail.failing_criterion if first_fail else None,
        confidence=min(confs) if confs else None,
        converged=plan.mode != "search" or bracket.capped or converged(plan, bracket),
        capped=bracket.capped,
        notes=tuple(notes),
    )
