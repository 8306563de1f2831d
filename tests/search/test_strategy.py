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


# ---- several tiers on shared levels ---------------------------------------------------------

TIERS = (custom_tier(20, 10), custom_tier(60, 5), custom_tier(180, 3))


def drive_tiers(
    plan: SearchPlan, oracle: Callable[[int, int, int], bool]
) -> tuple[Strategy, list[tuple[int, str, dict[int, str], dict[int, bool]]]]:
    """oracle(tier index, n, visit) -> passed. Every level is judged for the tiers it serves."""
    s = Strategy(plan)
    step: Step | None = s.first()
    runs = []
    visits: dict[int, int] = {}
    while step is not None:
        visits[step.n] = visits.get(step.n, 0) + 1
        roles = s.needs(step)
        assert roles, f"a level that serves no tier: {step}"
        outcomes = {k: oracle(k, step.n, visits[step.n]) for k in roles}
        runs.append((step.n, step.role, {k: str(r) for k, r in roles.items()}, outcomes))
        step = s.next(step.n, step.role, outcomes)
        assert len(runs) < 300
    return s, runs


def separate_levels(capacity: int, **kwargs: object) -> int:
    _, runs = drive(SearchPlan(tier=TIER, **kwargs), lambda n, _v: n <= capacity)  # type: ignore[arg-type]
    return len(runs)


@pytest.mark.parametrize(
    "caps",
    [(280, 40, 3), (136, 15, 0), (44, 40, 37), (1000, 1000, 999), (5, 300, 60), (0, 0, 0), (4095, 12, 1)],
)
@pytest.mark.parametrize("start", [1, 4])
def test_each_tier_lands_within_tolerance_on_shared_levels(caps: tuple[int, int, int], start: int) -> None:
    plan = SearchPlan(tiers=TIERS, start_n=start)
    s, runs = drive_tiers(plan, lambda k, n, _v: n <= caps[k])
    for k, cap in enumerate(caps):
        b = s.brackets[k]
        assert b.lo <= cap and cap - b.lo <= max(1, math.floor(0.05 * b.lo)), (k, b.lo, cap)
        assert s.done(k)
        if b.lo > 0:  # the answer was run twice for this tier, and passed both times
            served = [out[k] for n, _r, roles, out in runs if n == b.lo and k in roles]
            assert served == [True, True]
            assert any(roles.get(k) == "confirm" for n, _r, roles, _o in runs if n == b.lo)
    separate = sum(separate_levels(c, start_n=start) for c in caps)
    assert len(runs) <= separate
    # the ramp is shared: each ramp level is run once, for every tier it lies below the failure of
    ramp = [n for n, r, _roles, _o in runs if r == "ramp"]
    assert len(ramp) == len(set(ramp))


def test_sharing_saves_the_ramp_and_uses_overlapping_brackets() -> None:
    # well-separated capacities: the ramp up to the loosest tier's failure is run once
    _, runs = drive_tiers(SearchPlan(tiers=TIERS, start_n=4), lambda k, n, _v: n <= (280, 40, 3)[k])
    assert [n for n, r, _roles, _o in runs if r == "ramp"] == [4, 8, 16, 32, 64, 128, 256, 512]
    first = runs[0]
    assert first[2] == {0: "ramp", 1: "ramp", 2: "ramp"}  # N=4 serves every tier
    assert len(runs) < sum(separate_levels(c, start_n=4) for c in (280, 40, 3)) - 5
    # close capacities: one level serves several brackets
    _, runs = drive_tiers(SearchPlan(tiers=TIERS, start_n=4), lambda k, n, _v: n <= (44, 40, 37)[k])
    assert any(len(roles) >= 2 for _n, r, roles, _o in runs if r != "ramp")
    assert len(runs) < sum(separate_levels(c, start_n=4) for c in (44, 40, 37))


def test_tiers_are_worked_from_the_highest_bracket_down() -> None:
    _, runs = drive_tiers(SearchPlan(tiers=TIERS, start_n=4), lambda k, n, _v: n <= (280, 40, 3)[k])
    after_ramp = [(n, roles) for n, r, roles, _o in runs if r != "ramp"]
    served = [min(roles) for _n, roles in after_ramp]  # the loosest tier each level serves
    assert served == sorted(served), "the fleet moves down from one tier to the next"


def test_a_failed_confirmation_reopens_only_that_tier() -> None:
    # tier 1's capacity is 40, but 44 passes on its first visit only
    def oracle(k: int, n: int, visit: int) -> bool:
        cap = (280, 40, 3)[k]
        return n <= cap or (k == 1 and n == 44 and visit == 1)

    s, runs = drive_tiers(SearchPlan(tiers=TIERS, start_n=4, tolerance_frac=0.0), oracle)
    assert (44, {1: "confirm"}, {1: False}) in [(n, roles, out) for n, _r, roles, out in runs]
    assert s.brackets[1].lo == 40 and any("failed its confirmation" in x for x in s.brackets[1].notes)
    assert not s.brackets[0].notes and not s.brackets[2].notes
    assert (s.brackets[0].lo, s.brackets[2].lo) == (280, 3)


def test_fixed_and_sweep_levels_serve_every_tier() -> None:
    s = Strategy(SearchPlan(mode="fixed", fixed_n=12, tiers=TIERS))
    assert s.needs(s.first()) == {0: "fixed", 1: "fixed", 2: "fixed"}
    s, runs = drive_tiers(SearchPlan(mode="sweep", sweep=[4, 16, 8], tiers=TIERS), lambda k, n, _v: n < 10)
    assert [n for n, *_ in runs] == [4, 16, 8] and all(len(roles) == 3 for _n, _r, roles, _o in runs)


def test_tiers_in_the_plan() -> None:
    plan = SearchPlan(tiers=TIERS)
    assert plan.tier == TIERS[0] and plan.tiers == TIERS
    assert SearchPlan(tier=TIER).tiers == (TIER,)
    with pytest.raises(PlanError) as e:
        SearchPlan(tier=TIER, tiers=TIERS)
    assert e.value.field == "tier"
    with pytest.raises(PlanError) as e:
        SearchPlan(tiers=(TIER, TIER))
    assert e.value.field == "tiers" and "twice" in str(e.value)
