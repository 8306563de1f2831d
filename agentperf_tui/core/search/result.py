"""The outcome of a search, sweep or fixed-N run: every level, and the answer for each tier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.strategy import Bracket, converged
from agentperf_tui.core.summary.level import LevelRecord, TierVerdict
from agentperf_tui.core.summary.normalise import normalise
from agentperf_tui.core.summary.result import TierResult
from agentperf_tui.core.tiers import SloTier


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
    brackets: Sequence[Bracket],
    records: list[LevelRecord],
    started_at: float,
    ended_at: float,
    *,
    counted_from: int = 0,
) -> SearchResult:
    """The result of `plan` for each of its tiers (`brackets[k]` is tier k's), judged on
    `records[counted_from:]` (earlier levels stay listed)."""
    counted = records[counted_from:]
    tiers: Sequence[SloTier | None] = plan.tiers or (None,)
    return SearchResult(
        results=tuple(tier_result(plan, t, b, counted) for t, b in zip(tiers, brackets, strict=True)),
        levels=tuple(records),
        mode=plan.mode,
        rigour=plan.rigour,
        published_rules=plan.published_rules,
        started_at=started_at,
        ended_at=ended_at,
    )


Judged = tuple[LevelRecord, TierVerdict | None]
"""A level and its verdict for one tier (None: a run without a tier)."""


def no_data_notes(plan: SearchPlan, n_star: int | None, used: Sequence[Judged]) -> list[str]:
    """What the levels that ended with no request counted leave open: each counted as a fail
    without a single request behind it (none finished or was open in its window)."""
    empty = sorted({r.n for r, v in used if v is not None and v.requests == 0 and not v.passed})
    if not empty:
        return []
    ns = ", ".join(str(n) for n in empty)
    one = len(empty) == 1
    what = (
        f"N={ns} ended with no data (no request finished or open in its window) and "
        f"{'was' if one else 'were'} counted as {'a fail' if one else 'fails'}"
    )
    if plan.mode == "fixed":
        return [f"{what}: the verdict at N={plan.fixed_n} is unknown"]
    if any(n > (n_star or 0) for n in empty):
        return [f"{what}: N* may be higher"]
    return [what]


def tier_result(
    plan: SearchPlan, tier: SloTier | None, bracket: Bracket, records: list[LevelRecord]
) -> TierResult:
    """The answer for one tier, from the verdicts of the levels the search took for it."""
    decided = [r for r in records if r.decided]
    verdicts = [(r, v) for r in decided if tier is not None and (v := r.for_tier(tier.name)) is not None]
    used = [(r, v) for r, v in verdicts if v.used or plan.mode != "search"]
    notes = list(bracket.notes)
    n_star: int | None
    if tier is None:
        n_star = None
        notes.append("no SLO tier: levels measured without a verdict")
    elif plan.mode == "fixed":
        n_star = plan.fixed_n if used and all(v.passed for _, v in used) else None
    elif plan.mode == "sweep":
        fails = [r.n for r, v in used if not v.passed]
        lowest_fail = min(fails, default=None)
        ok = [r.n for r, v in used if v.passed and (lowest_fail is None or r.n < lowest_fail)]
        n_star = max(ok, default=0)
        above = sorted({r.n for r, v in used if v.passed and lowest_fail is not None and r.n > lowest_fail})
        if above:
            notes.append(f"not monotonic: N={above} passed above the failing N={lowest_fail}")
    else:
        n_star = bracket.lo
    first_fail: Judged | None = min(
        ((r, v) for r, v in used if not v.passed), key=lambda rv: (rv[0].n, -rv[0].index), default=None
    )
    level_n = plan.fixed_n if plan.mode == "fixed" else n_star
    at_n = [(r, v) for r, v in used if r.n == level_n] if tier is not None else [
        (r, None) for r in decided if r.n == level_n
    ]
    passing_at_n = [(r, v) for r, v in at_n if v is not None and v.passed]
    star: Judged | None = passing_at_n[-1] if n_star and passing_at_n else None
    star_rec = star[0] if star else None
    level_rec = star_rec or (at_n[-1][0] if at_n else None)
    norm = normalise(
        n_star,
        plan.gpu_count,
        star_rec.mean_power_w if star_rec else None,
        power_simulated=star_rec.power_simulated if star_rec else False,
        power_note=star_rec.power_note if star_rec else None,
        nominal_gpu_power_w=plan.nominal_gpu_power_w,
    )
    confs = [rv[1].confidence for rv in (star, first_fail) if rv and rv[1] and rv[1].confidence is not None]
    if tier is not None:
        notes += no_data_notes(plan, n_star, used)
    if tier is not None and any(v.verdict == "undecided" and v.requests for _, v in used):
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
        first_fail_n=first_fail[0].n if first_fail else None,
        failing_criterion=first_fail[1].failing_criterion if first_fail and first_fail[1] else None,
        confidence=min(confs) if confs else None,
        converged=plan.mode != "search" or bracket.capped or converged(plan, bracket),
        capped=bracket.capped,
        notes=tuple(notes),
    )
