"""Ramp, bisection and confirmation on deterministic pass/fail oracles (no clock, no data)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from agentperf_tui.core.search.plan import PlanError, SearchPlan
from agentperf_tui.core.search.strategy import Step, Strategy
from agentperf_tui.core.tiers import custom_tier

TIER = custom_tier(50, 4)


Run = tuple[int, str, bool]


def drive(plan: SearchPlan, oracle: Callable[[int, int], bool]) -> tuple[Strategy, list[Run]]:
    """oracle(n, visit) -> passed. Returns the strategy and the levels run."""
    s = Strategy(plan)
    step: Step | None = s.first()
    runs: list[tuple[int, str, bool]] = []
    visits: dict[int, int] = {}
    while step is not None:
        visits[step.n] = visits.get(step.n, 0) + 1
        ok = oracle(step.n, visits[step.n])
        runs.append((step.n, step.role, ok))
        step = s.next(step.n, step.role, ok)
        assert len(runs) < 200
    return s, runs


@pytest.mark.parametrize("capacity", [1, 2, 3, 7, 19, 20, 21, 63, 64, 65, 100, 333, 1000, 4095])
@pytest.mark.parametrize("start", [1, 4, 50])
def test_search_lands_within_tolerance(capacity: int, start: int) -> None:
    plan = SearchPlan(tier=TIER, start_n=start)
    s, runs = drive(plan, lambda n, _v: n <= capacity)
    found = s.b.lo
    assert found <= capacity
    assert capacity - found <= max(1, math.floor(0.05 * found))
    assert s.b.hi is not None and s.b.hi > capacity
    # the final level was confirmed: run twice, passed twice
    assert runs[-1] == (found, "confirm", True)
    assert sum(1 for n, _r, _ok in runs if n == found) == 2


def test_tolerance_abs_one_is_exact_and_nothing_passes_gives_zero() -> None:
    s, _ = drive(SearchPlan(tier=TIER, start_n=8, tolerance_frac=0.0), lambda n, _v: n <= 37)
    assert s.b.lo == 37 and s.b.hi == 38
    s, runs = drive(SearchPlan(tier=TIER, start_n=8), lambda n, _v: False)
    assert s.b.lo == 0 and s.b.hi == 1
    assert [n for n, _r, _ok in runs] == [8, 4, 2, 1]


def test_ramp_capped_at_max_n() -> None:
    s, runs = drive(SearchPlan(tier=TIER, start_n=4, max_n=50), lambda n, _v: True)
    assert [n for n, _r, _ok in runs] == [4, 8, 16, 32, 50, 50]
    assert s.b.capped and s.b.lo == 50 and any("max_n=50" in x for x in s.b.notes)


def test_confirmation_failure_moves_the_answer_down() -> None:
    # 60 passes on its first visit only; the true capacity is 57
    def oracle(n: int, visit: int) -> bool:
        return n <= 57 or (n == 60 and visit == 1)

    s, runs = drive(SearchPlan(tier=TIER, start_n=4, tolerance_frac=0.0), oracle)
    assert (60, "confirm", False) in runs
    assert s.b.lo == 57
    assert runs[-1] == (57, "confirm", True)
    assert any("failed its confirmation" in x for x in s.b.notes)


def test_no_confirmation_when_disabled_and_max_levels() -> None:
    s, runs = drive(SearchPlan(tier=TIER, start_n=4, confirm=False), lambda n, _v: n <= 40)
    assert all(r != "confirm" for _n, r, _ok in runs)
    s, runs = drive(SearchPlan(tier=TIER, start_n=4, max_levels=3), lambda n, _v: n <= 40)
    assert len(runs) == 3 and any("max_levels" in x for x in s.b.notes)


def test_fixed_and_sweep() -> None:
    _, runs = drive(SearchPlan(mode="fixed", fixed_n=12, tier=None), lambda n, _v: True)
    assert runs == [(12, "fixed", True)]
    _, runs = drive(SearchPlan(mode="sweep", sweep=[4, 16, 8], tier=TIER), lambda n, _v: n < 10)
    assert runs == [(4, "sweep", True), (16, "sweep", False), (8, "sweep", True)]


def test_discarded_level_is_rerun() -> None:
    s = Strategy(SearchPlan(tier=TIER, start_n=4))
    step = s.first()
    again = s.next(step.n, step.role, False, counts=False)
    assert again == step and s.b.outcomes == {}


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"mode": "search", "tier": None}, "tier"),
        ({"mode": "fixed", "tier": TIER}, "fixed_n"),
        ({"mode": "sweep", "tier": TIER, "sweep": []}, "sweep"),
        ({"tier": TIER, "confidence": 1.2}, "confidence"),
        ({"tier": TIER, "ramp_factor": 1.0}, "ramp_factor"),
        ({"tier": TIER, "start_n": 0}, "start_n"),
        ({"tier": TIER, "fast_cap_s": 5, "fast_min_s": 10}, "fast_cap_s"),
    ],
)
def test_plan_errors_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(PlanError) as e:
        SearchPlan(**kwargs)  # type: ignore[arg-type]
    assert e.value.field == field and field in str(e.value)


def test_plan_defaults_by_rigour() -> None:
    strict = SearchPlan(tier=TIER, rigour="strict")
    assert strict.warmup == 30 and strict.min_steady_s == 600 and strict.published_rules
    fast = SearchPlan(tier=TIER, rigour="fast")
    assert fast.warmup == 10 and not fast.published_rules
    assert not SearchPlan(tier=TIER, rigour="strict", warmup_s=5).published_rules
