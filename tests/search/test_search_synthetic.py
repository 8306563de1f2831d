"""Whole searches on the synthetic closed-loop load (virtual clock): accuracy against the closed
form and a brute-force scan, noise, operator controls, views and normalisation."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from synthetic_load import SyntheticLoad

from agentperf_tui.core.search.controller import Finished, RunAt, SearchController
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.virtual_run import run_search_virtual
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.tiers import SloTier, custom_tier
from agentperf_tui.core.views import SearchView

# two load shapes x tiers: one where speed breaks first, one where TTFT breaks first
CONFIGS: dict[str, tuple[dict[str, Any], SloTier]] = {
    "speed-bound": (dict(speed0=150.0, speed_halving_n=64.0, ttft_knee_n=200.0), custom_tier(60, 2)),
    "ttft-bound": (dict(speed0=300.0, speed_halving_n=400.0, ttft0=0.3, ttft_knee_n=40.0, turns=4),
                   custom_tier(100, 3)),
}


def within(found: int, truth: int) -> bool:
    return abs(found - truth) <= max(1, math.floor(0.05 * truth))


def brute_force(kwargs: dict[str, Any], tier: SloTier, ns: list[int], seed: int = 999) -> dict[int, bool]:
    """Long fixed-N levels (strict rules, 20 min windows) at each N."""
    out = {}
    for n in ns:
        plan = SearchPlan(mode="fixed", fixed_n=n, rigour="strict", tier=tier, min_steady_s=1200)
        res = run_search_virtual(plan, SyntheticLoad(seed=seed, **kwargs), tick_s=5.0)
        out[n] = res.levels[-1].passed
    return out


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fast_search_lands_on_the_true_capacity_for_ten_seeds(name: str) -> None:
    kwargs, tier = CONFIGS[name]
    truth = SyntheticLoad(**kwargs).true_capacity(tier.speed_tok_s, tier.ttft_s)
    assert 20 < truth < 200
    # the closed form agrees with a brute-force scan of long fixed-N levels around it
    scan = brute_force(kwargs, tier, [truth - 3, truth, truth + 4])
    assert scan == {truth - 3: True, truth: True, truth + 4: False}
    expected_criterion = "speed" if name == "speed-bound" else "ttft"
    for seed in range(10):
        res = run_search_virtual(SearchPlan(tier=tier, gpu_count=8), SyntheticLoad(seed=seed, **kwargs))
        assert res.primary.n_star is not None
        assert within(res.primary.n_star, truth), (seed, res.primary.n_star, truth)
        assert res.primary.first_fail_n is not None and res.primary.first_fail_n > res.primary.n_star
        assert res.primary.failing_criterion is not None
        assert expected_criterion in res.primary.failing_criterion
        assert res.primary.converged and res.primary.confidence is not None
        assert res.levels[-1].role == "confirm" and res.levels[-1].n == res.primary.n_star


def test_strict_search_agrees_and_meets_the_published_rules() -> None:
    kwargs, tier = CONFIGS["speed-bound"]
    truth = SyntheticLoad(**kwargs).true_capacity(tier.speed_tok_s, tier.ttft_s)
    plan = SearchPlan(tier=tier, rigour="strict", gpu_count=8)
    res = run_search_virtual(plan, SyntheticLoad(seed=3, **kwargs), tick_s=2.0)
    assert res.primary.n_star is not None and within(res.primary.n_star, truth)
    assert res.published_rules
    for lv in res.levels:
        assert lv.meets_rules is True and lv.window_s >= 600
        assert lv.measure_from is not None and lv.held_at is not None
        assert lv.measure_from - lv.held_at == pytest.approx(30.0)
        assert lv.trajectories_completed >= 30 and lv.agents_with_min_trajectories >= lv.n


def test_passes_once_then_fails_its_confirmation() -> None:
    kwargs, tier = CONFIGS["speed-bound"]
    truth = SyntheticLoad(**kwargs).true_capacity(tier.speed_tok_s, tier.ttft_s)
    # first run the search undisturbed to learn where it converges, then make exactly that
    # level's second visit (its confirmation) overloaded
    first = run_search_virtual(SearchPlan(tier=tier), SyntheticLoad(seed=5, **kwargs))
    target = first.primary.n_star
    assert target is not None

    def degrade(n: int, visit: int) -> float:
        return 20.0 if (n == target and visit == 2) else 1.0

    res = run_search_virtual(SearchPlan(tier=tier), SyntheticLoad(seed=5, degrade=degrade, **kwargs))
    runs = [(lv.n, lv.role, lv.passed) for lv in res.levels]
    assert (target, "confirm", False) in runs
    assert res.primary.n_star is not None and res.primary.n_star < target
    assert any("failed its confirmation" in note for note in res.primary.notes)
    assert res.levels[-1].role == "confirm" and res.levels[-1].passed
    assert abs(res.primary.n_star - truth) <= max(2, math.floor(0.1 * truth))


def test_non_monotonic_sweep_is_reported() -> None:
    kwargs, tier = CONFIGS["speed-bound"]

    def degrade(n: int, visit: int) -> float:
        return 30.0 if n == 16 else 1.0

    plan = SearchPlan(mode="sweep", sweep=[8, 16, 32, 200], tier=tier)
    res = run_search_virtual(plan, SyntheticLoad(seed=1, degrade=degrade, **kwargs))
    assert [lv.n for lv in res.levels] == [8, 16, 32, 200]
    assert [lv.passed for lv in res.levels] == [True, False, True, False]
    assert res.primary.n_star == 8
    assert res.primary.first_fail_n == 16
    assert res.primary.failing_criterion == "ttft"
    assert any("not monotonic" in note for note in res.primary.notes)


def test_per_gpu_and_per_megawatt_arithmetic() -> None:
    kwargs, tier = CONFIGS["speed-bound"]
    load = SyntheticLoad(seed=2, gpu_count=4, **kwargs)
    samples: list[tuple[float, float]] = []
    res = run_search_virtual(SearchPlan(tier=tier, gpu_count=4), load,
                             on_tick=lambda _c: samples.append((load.now, load.energy_j)))
    assert res.primary.n_star is not None and res.primary.n_star > 0
    assert res.primary.agents_per_gpu == pytest.approx(res.primary.n_star / 4)
    star = [lv for lv in res.levels if lv.n == res.primary.n_star and lv.passed][-1]
    assert star.measure_from is not None and star.window_end is not None
    # mean power = energy counter delta over N*'s window / its duration, from the load's own counter
    e = dict(samples)
    t0, t1 = star.measure_from, star.window_end

    def at(t: float) -> float:
        ts = sorted(e)
        for a, b in itertools.pairwise(ts):
            if a <= t <= b:
                return e[a] + (e[b] - e[a]) * (t - a) / (b - a)
        raise AssertionError(t)

    mean_w = (at(t1) - at(t0)) / (t1 - t0)
    assert star.mean_power_w == pytest.approx(mean_w, rel=1e-9)
    assert res.primary.power_w == pytest.approx(mean_w)
    assert res.primary.agents_per_mw == pytest.approx(res.primary.n_star / (mean_w / 1e6))
    assert res.primary.power_basis == "simulated" and "simulated" in res.primary.power_note
    # GPU power only, between idle and busy for 4 GPUs
    assert 4 * 150 < mean_w < 4 * 700


def test_no_power_reading_and_nominal_stand_in() -> None:
    kwargs, tier = CONFIGS["speed-bound"]
    ctl = SearchController(SearchPlan(tier=tier, gpu_count=8, nominal_gpu_power_w=700.0))
    load = SyntheticLoad(seed=4, **kwargs)
    load.set_concurrency(ctl.start(load.now))
    while True:
        d = ctl.tick(load.now + 0.0, load.advance(1.0), load.trajectories_completed(), load.active_agents,
                     lambda t0, t1: None)
        if isinstance(d, RunAt):
            load.set_concurrency(d.n)
        elif isinstance(d, Finished):
            res = d.result
            break
    assert res.primary.n_star is not None and res.primary.n_star > 0
    assert res.primary.power_basis == "nominal"
    assert "NOMINAL" in res.primary.power_note
    assert "not measured" in res.primary.power_note
    assert res.primary.agents_per_mw == pytest.approx(res.primary.n_star / (8 * 700 / 1e6))
    ctl2 = SearchController(SearchPlan(tier=tier, gpu_count=None))
    load = SyntheticLoad(seed=4, **kwargs)
    load.set_concurrency(ctl2.start(0.0))
    d2 = None
    while not isinstance(d2, Finished):
        d2 = ctl2.tick(load.now, load.advance(1.0), load.trajectories_completed(), load.active_agents, None)
        if isinstance(d2, RunAt):
            load.set_concurrency(d2.n)
    r2 = d2.result
    assert r2.primary.agents_per_mw is None
    assert r2.primary.power_basis is None
    assert "no power telemetry" in r2.primary.power_note
    assert r2.primary.agents_per_gpu is None and "GPU count unknown" in r2.primary.power_note


def test_nothing_passes_gives_zero() -> None:
    kwargs, _ = CONFIGS["speed-bound"]
    plan = SearchPlan(tier=custom_tier(1000, 2), gpu_count=8)
    res = run_search_virtual(plan, SyntheticLoad(seed=0, **kwargs))
    assert res.primary.n_star == 0
    assert res.primary.first_fail_n == 1
    assert res.primary.failing_criterion == "speed"
    assert res.primary.agents_per_gpu == 0 and "no level met the tier" in res.primary.power_note


def test_views_during_a_run_and_operator_controls() -> None:
    kwargs, tier = CONFIGS["speed-bound"]
    plan = SearchPlan(tier=tier, rigour="strict", gpu_count=8)
    ctl = SearchController(plan)
    load = SyntheticLoad(seed=0, **kwargs)
    load.set_concurrency(ctl.start(0.0))
    phases = set()
    for _ in range(100):
        ctl.tick(load.now, load.advance(1.0), load.trajectories_completed(), load.active_agents, None)
        lv = ctl.level_view()
        assert isinstance(lv, LevelRecord)
        phases.add(lv.phase)
    assert {"warmup", "measuring"} <= phases
    v = ctl.view()
    assert isinstance(v, SearchView) and v.tier == "custom/60-2" and v.speed_floor == 60 and not v.done
    live = ctl.level_view()
    assert live is not None and live.requests > 0 and live.speed_p25 > 60 and live.reason
    # repeat: the attempt is discarded, the same N is measured again from a fresh warm-up
    assert ctl.repeat_level(load.now) is None
    assert ctl.records[-1].outcome == "discarded" and ctl.level is not None and ctl.level.n == 4
    assert ctl.level_view() is not None and ctl.level_view().phase in ("transition", "warmup")  # type: ignore[union-attr]
    for _ in range(60):
        ctl.tick(load.now, load.advance(1.0), load.trajectories_completed(), load.active_agents, None)
    # skip: ended now, decided on what has finished; the search moves on to 8
    d = ctl.skip_level(load.now)
    assert d == RunAt(8)
    assert ctl.records[-1].outcome == "skipped" and ctl.records[-1].passed
    assert len(ctl.view().levels) == 3


def test_fixed_level_without_a_tier_measures_only() -> None:
    kwargs, _ = CONFIGS["speed-bound"]
    res = run_search_virtual(SearchPlan(mode="fixed", fixed_n=10, tier=None), SyntheticLoad(seed=0, **kwargs))
    lv = res.levels[0]
    assert lv.verdict == "undecided" and lv.requests > 0 and lv.speed_p25 > 0
    assert res.primary.n_star is None and res.primary.tier is None
    assert res.levels[0].model_dump(mode="json")["n"] == 10


def test_sweep_view_reports_best_pass_and_lowest_fail() -> None:
    kwargs, tier = CONFIGS["speed-bound"]
    ctl = SearchController(SearchPlan(mode="sweep", sweep=[8, 200], tier=tier))
    load = SyntheticLoad(seed=0, **kwargs)
    load.set_concurrency(ctl.start(0.0))
    d = None
    while not isinstance(d, Finished):
        d = ctl.tick(load.now, load.advance(2.0), load.trajectories_completed(), load.active_agents, None)
        if isinstance(d, RunAt):
            load.set_concurrency(d.n)
    v = ctl.view()
    assert v.done and v.best_pass == 8 and v.lowest_fail == 200 and v.result_n == 8
    assert [lv.n for lv in v.levels] == [8, 200] and all(lv.phase == "settled" for lv in v.levels)


def test_requests_that_hang_count_while_they_hang_and_the_search_still_finds_the_truth() -> None:
    """1% of requests hang for 200 s and then fail (as a stall timeout ends them). While they hang
    they are open, and counted as the misses they already are; the answer matches the closed form
    for a 1% failure rate."""
    kwargs, tier = CONFIGS["speed-bound"]
    truth = SyntheticLoad(fail_prob=0.01, **kwargs).true_capacity(tier.speed_tok_s, tier.ttft_s)
    for seed in range(5):
        load = SyntheticLoad(seed=seed, hang_prob=0.01, hang_s=200.0, **kwargs)
        res = run_search_virtual(SearchPlan(tier=tier, gpu_count=8), load)
        assert res.primary.n_star is not None
        assert abs(res.primary.n_star - truth) <= max(2, math.floor(0.08 * truth)), (seed, truth)
        assert any(lv.open_counted for lv in res.levels), "some level was judged with requests open"


def test_a_server_that_stops_answering_never_yields_a_passing_level() -> None:
    """Every request sent after t=40 s hangs for good (headers, then silence): the level held at
    N=8 cannot pass on the requests that finished before the hang."""
    kwargs, tier = CONFIGS["speed-bound"]
    plan = SearchPlan(mode="fixed", fixed_n=8, tier=tier, warmup_s=5.0, fast_min_s=60.0)
    res = run_search_virtual(plan, SyntheticLoad(seed=1, hang_from=40.0, **kwargs))
    (level,) = res.levels
    assert level.requests > level.open_counted > 0
    assert not level.passed and level.verdict != "pass"
    assert level.failing_criterion is not None and "ttft" in level.failing_criterion
    assert res.primary.n_star is None
    # a search on the same server never passes a level started after the hang
    load = SyntheticLoad(seed=1, hang_from=150.0, **kwargs)
    res = run_search_virtual(SearchPlan(tier=tier, start_n=8), load)
    assert not [lv for lv in res.levels if lv.started_at >= 150.0 and lv.passed]


def test_a_time_budget_ends_the_search_with_the_bracket_it_has() -> None:
    kwargs, tier = CONFIGS["speed-bound"]
    truth = SyntheticLoad(**kwargs).true_capacity(tier.speed_tok_s, tier.ttft_s)
    full = run_search_virtual(SearchPlan(tier=tier, gpu_count=8), SyntheticLoad(seed=1, **kwargs))
    budget = full.duration_s / 2
    plan = SearchPlan(tier=tier, gpu_count=8, budget_s=budget)
    cut = run_search_virtual(plan, SyntheticLoad(seed=1, **kwargs))
    r = cut.primary
    # it stopped at the budget (within one tick), with fewer levels than the whole search
    assert budget <= cut.duration_s <= budget + 5.0
    assert len([lv for lv in cut.levels if lv.outcome != "discarded"]) < len(full.levels)
    assert not r.converged
    # the answer is a level that passed (never more than the truth), and the note says so
    assert r.n_star is not None and r.n_star <= truth + max(1, math.floor(0.05 * truth))
    assert any(lv.n == r.n_star and lv.passed for lv in cut.levels) or r.n_star == 0
    note = r.notes[0]
    assert "time budget ran out" in note and f"N*>={r.n_star}" in note
    # the level open when the budget ran out is on record as discarded, not judged
    last = cut.levels[-1]
    if last.outcome == "discarded":
        assert "time budget" in (last.reason or "") and not last.passed


def test_a_budget_longer_than_the_search_changes_nothing() -> None:
    kwargs, tier = CONFIGS["speed-bound"]
    full = run_search_virtual(SearchPlan(tier=tier, gpu_count=8), SyntheticLoad(seed=2, **kwargs))
    roomy = run_search_virtual(
        SearchPlan(tier=tier, gpu_count=8, budget_s=full.duration_s * 3), SyntheticLoad(seed=2, **kwargs)
    )
    assert roomy.primary.n_star == full.primary.n_star and roomy.primary.converged
    assert not any("budget" in n for n in roomy.primary.notes)


def test_a_virtual_run_collects_cycles_rarely_and_restores_the_collector() -> None:
    """During a virtual search the young generation is collected every 100,000 allocations (the
    run makes millions of short-lived objects that reference counting frees); afterwards, and
    after a run that fails, the thresholds are what they were."""
    import gc

    from agentperf_tui.core.search.virtual_run import GEN0_THRESHOLD, VirtualRunError

    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    plan = SearchPlan(mode="fixed", fixed_n=4, tier=custom_tier(60, 2), gpu_count=8)
    run_search_virtual(plan, SyntheticLoad(seed=1), on_tick=lambda _ctl: during.append(gc.get_threshold()))
    assert during and all(t[0] == max(before[0], GEN0_THRESHOLD) and t[1:] == before[1:] for t in during)
    assert gc.get_threshold() == before
    with pytest.raises(VirtualRunError):
        run_search_virtual(plan, SyntheticLoad(seed=1), max_virtual_s=5.0)
    assert gc.get_threshold() == before
