"""Several SLO tiers in one search on the synthetic closed-loop load (virtual clock): each tier's
N* against the closed form and against a search for that tier alone, the per-tier verdicts of
each level, the shared levels, the views, and fixed and hand-set runs."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from synthetic_load import SyntheticLoad

from agentperf_tui.core.search.controller import Finished, RunAt, SearchController
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.result import SearchResult
from agentperf_tui.core.search.virtual_run import run_search_virtual
from agentperf_tui.core.summary.level import LevelRecord, TierVerdict
from agentperf_tui.core.tiers import custom_tier

LOAD: dict[str, Any] = dict(speed0=300.0, speed_halving_n=400.0, ttft0=0.3, ttft_knee_n=40.0, turns=4)
# a family of three tiers, each bound by its TTFT limit (tiers bound by different criteria, and
# tiers that are not nested, are in test_strategy.py)
TIERS = (custom_tier(100, 5), custom_tier(100, 3), custom_tier(100, 1.5))


def within(found: int | None, truth: int) -> bool:
    return found is not None and abs(found - truth) <= max(1, math.floor(0.05 * truth))


def truths() -> list[int]:
    load = SyntheticLoad(**LOAD)
    return [load.true_capacity(t.speed_tok_s, t.ttft_s) for t in TIERS]


@pytest.fixture(scope="module")
def family() -> SearchResult:
    return run_search_virtual(SearchPlan(tiers=TIERS, gpu_count=8), SyntheticLoad(seed=1, **LOAD))


def test_the_closed_form_capacities() -> None:
    assert truths() == [73, 60, 42]
    load = SyntheticLoad(**LOAD)
    assert load.true_p25_speed(74) > 100 and load.true_p95_ttft(74) > 5  # bound by TTFT


@pytest.mark.parametrize("seed", range(3))
def test_one_run_finds_every_tier_as_separate_searches_do(seed: int) -> None:
    together = run_search_virtual(SearchPlan(tiers=TIERS, gpu_count=8), SyntheticLoad(seed=seed, **LOAD))
    separate = [
        run_search_virtual(SearchPlan(tier=t, gpu_count=8), SyntheticLoad(seed=seed, **LOAD)) for t in TIERS
    ]
    assert [r.tier for r in together.results] == list(TIERS)
    for k, (truth, alone) in enumerate(zip(truths(), separate, strict=True)):
        found = together.results[k].n_star
        assert within(found, truth), (k, found, truth)
        assert found is not None and alone.primary.n_star is not None
        assert abs(found - alone.primary.n_star) <= max(1, math.floor(0.05 * truth)), (k, found, alone)
        assert together.results[k].converged and together.results[k].confidence is not None
    # the shared levels: fewer levels and less measuring than the separate searches together
    assert len(together.levels) < sum(len(r.levels) for r in separate)
    assert together.duration_s < sum(r.duration_s for r in separate)


def test_each_level_carries_a_verdict_for_every_tier(family: SearchResult) -> None:
    names = [t.name for t in TIERS]
    for lv in family.levels:
        assert [v.tier for v in lv.tiers] == names
        assert [(v.speed_tok_s, v.ttft_s) for v in lv.tiers] == [(t.speed_tok_s, t.ttft_s) for t in TIERS]
        first = lv.tiers[0]
        # the single-tier fields are the first tier's
        assert (lv.verdict, lv.passed, lv.settled, lv.confidence, lv.failing_criterion) == (
            first.verdict, first.passed, first.settled, first.confidence, first.failing_criterion,
        )  # fmt: skip
        assert any(v.used for v in lv.tiers), "every level was run for some tier"
        for v in lv.tiers:
            assert (v.role is not None) == v.used
            assert v.requests > 0 and v.requests <= lv.requests
            undecided_pass = v.verdict == "undecided" and v.failing_criterion is None
            assert v.passed == (v.verdict == "pass" or undecided_pass)
            # fast mode: each tier's verdict has its own confidence; one settled at a look
            # before the last has exactly the plan's, one settled at the last at least that
            if v.settled:
                assert v.confidence is not None and v.confidence >= 0.95 - 1e-12
                assert 1 <= v.looks <= lv.looks
                if v.looks < lv.looks:
                    assert v.confidence == pytest.approx(0.95)
    # a looser tier passes wherever a stricter one (on both criteria) passes: one window, one order
    for lv in family.levels:
        for loose, strict in zip(lv.tiers, lv.tiers[1:], strict=False):
            if strict.verdict == "pass":
                assert loose.verdict != "fail"
            if loose.verdict == "fail":
                assert strict.verdict != "pass"


def test_a_level_ends_when_every_tier_it_serves_is_settled() -> None:
    """At N=60, 100/1.5 (capacity 42) is settled as failing at the first look; 100/3 (capacity 60)
    is at its boundary and keeps the level going. Each tier keeps the verdict of its own look."""
    plan = SearchPlan(mode="fixed", fixed_n=60, tiers=TIERS[1:], gpu_count=8)
    (lv,) = run_search_virtual(plan, SyntheticLoad(seed=2, **LOAD)).levels
    boundary, clear = lv.tiers
    assert clear.settled and clear.verdict == "fail" and clear.looks == 1
    assert clear.requests < lv.requests and clear.confidence == pytest.approx(0.95)
    assert boundary.looks == lv.looks > 1 and boundary.requests == lv.requests
    assert (boundary.settled and "settled after" in lv.reason) or "time cap" in lv.reason
    assert "other tiers: 100-1.5 fail (ttft)" in lv.reason


def used_at(res: SearchResult, name: str, n: int) -> list[tuple[LevelRecord, TierVerdict]]:
    """The levels at N the search used for the tier `name`, with that tier's verdict."""
    return [(lv, v) for lv in res.levels if lv.n == n and (v := lv.for_tier(name)) is not None and v.used]


def test_each_result_rests_on_its_own_levels(family: SearchResult) -> None:
    for k, res in enumerate(family.results):
        name = TIERS[k].name
        assert res.tier_name == name and res.n_star is not None and res.first_fail_n is not None
        star = used_at(family, name, res.n_star)
        assert [v.passed for _, v in star] == [True, True]
        level = star[-1][0]
        assert res.level_index == level.index and res.level_n == res.n_star
        # agents per MW from the one normalisation, at this tier's N* level
        assert level.mean_power_w is not None and res.power_w == pytest.approx(level.mean_power_w)
        assert res.agents_per_mw == pytest.approx(res.n_star / (level.mean_power_w / 1e6))
        assert res.agents_per_gpu == pytest.approx(res.n_star / 8)
        assert any(not v.passed for _, v in used_at(family, name, res.first_fail_n))
    assert all("ttft" in (r.failing_criterion or "") for r in family.results)
    # one confirmation per tier (a level may confirm two tiers at once)
    confirmed = {v.tier for lv in family.levels for v in lv.tiers if v.role == "confirm"}
    assert confirmed == {t.name for t in TIERS}


def test_the_view_shows_every_bracket_converging() -> None:
    ctl = SearchController(SearchPlan(tiers=TIERS, gpu_count=8))
    load = SyntheticLoad(seed=2, **LOAD)
    load.set_concurrency(ctl.start(load.now))
    widths: list[list[int | None]] = []
    for tick in itertools.count():
        d = ctl.tick(load.now, load.advance(2.0), load.trajectories_completed(), load.active_agents,
                     None, load.open_requests)  # fmt: skip
        if isinstance(d, RunAt):
            load.set_concurrency(d.n)
        elif isinstance(d, Finished):
            break
        if tick % 5:
            continue
        v = ctl.view()
        assert [b.tier for b in v.tiers] == [t.name for t in TIERS]
        first = v.tiers[0]
        assert (v.tier, v.best_pass, v.lowest_fail) == (first.tier, first.best_pass, first.lowest_fail)
        widths.append([None if b.lowest_fail is None else b.lowest_fail - (b.best_pass or 0)
                       for b in v.tiers])  # fmt: skip
        live = ctl.level_view()
        assert live is not None and len(live.tiers) == len(TIERS)
    assert isinstance(d, Finished)
    final = ctl.view()
    assert final.done and all(b.done and b.converged for b in final.tiers)
    assert [b.result_n for b in final.tiers] == [r.n_star for r in d.result.results]
    assert [b.best_pass for b in final.tiers] == [r.n_star for r in d.result.results]
    for k in range(len(TIERS)):
        seen = [w[k] for w in widths if w[k] is not None]
        assert seen and seen[-1] <= max(1, math.floor(0.05 * (final.tiers[k].best_pass or 0)))
        assert all(b >= a for a, b in zip(seen[1:], seen, strict=False)), "a bracket only narrows"


def test_a_fixed_level_is_judged_against_every_tier() -> None:
    plan = SearchPlan(mode="fixed", fixed_n=50, tiers=TIERS, gpu_count=8)
    res = run_search_virtual(plan, SyntheticLoad(seed=3, **LOAD))
    (lv,) = res.levels
    assert all(v.used and v.role == "fixed" and v.verdict in ("pass", "fail") for v in lv.tiers)
    # 50 agents: within the capacity of 100/5 (73) and 100/3 (60), beyond that of 100/1.5 (42)
    assert [v.passed for v in lv.tiers] == [True, True, False]
    assert [r.n_star for r in res.results] == [50, 50, None]
    assert all(r.level_index == 0 for r in res.results)


def test_n_set_by_hand_holds_for_every_tier() -> None:
    ctl = SearchController(SearchPlan(tiers=TIERS, gpu_count=8))
    load = SyntheticLoad(seed=4, **LOAD)
    load.set_concurrency(ctl.start(0.0))
    for _ in range(40):
        ctl.tick(load.now, load.advance(1.0), load.trajectories_completed(), load.active_agents, None)
    load.set_concurrency(ctl.hold(24, load.now).n)
    d = None
    while not isinstance(d, Finished):
        d = ctl.tick(load.now, load.advance(2.0), load.trajectories_completed(), load.active_agents, None)
    assert all(any("set by hand" in note for note in r.notes) for r in d.result.results)
    last = d.result.levels[-1]
    assert last.role == "hand" and all(v.used and v.role == "hand" for v in last.tiers)


@pytest.mark.slow
def test_strict_mode_judges_each_tier_by_the_published_rules() -> None:
    res = run_search_virtual(SearchPlan(tiers=TIERS, rigour="strict", gpu_count=8),
                             SyntheticLoad(seed=5, **LOAD), tick_s=5.0)  # fmt: skip
    assert res.published_rules
    for truth, r in zip(truths(), res.results, strict=True):
        assert within(r.n_star, truth), (r.tier_name, r.n_star, truth)
    for lv in res.levels:
        assert lv.meets_rules is True and lv.window_s >= 600
        assert all(not v.settled and v.verdict != "undecided" for v in lv.tiers)  # point estimates
