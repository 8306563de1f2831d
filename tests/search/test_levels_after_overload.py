"""Levels on the rack-scale engine after an overloaded one, on the virtual clock: a lower N holds
once the agents it retired have left and counts the requests it sends, requests stuck in the
engine count as open ones, and a level with nothing to count says so."""

from __future__ import annotations

from agentperf_tui.cli.plan import answer_line, level_row
from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.virtual_run import run_search_virtual
from agentperf_tui.core.search.window import key_of
from agentperf_tui.core.simulator.virtual import VirtualLoad
from agentperf_tui.core.tiers import custom_tier
from agentperf_tui.core.workload.trajectory import Trajectory
from tests.simulator.workloads import small_rack_shape, token_trajectory

TIER = custom_tier(20, 10)


def _with_long_replies(out_long: int = 12_000) -> list[Trajectory]:
    """Short agent turns, and one trajectory whose replies stream for minutes."""
    trajs = [token_trajectory(f"t{i}", turns=6, first=4000, new=500, out=100, delay=0.5) for i in range(3)]
    trajs.append(token_trajectory("long", turns=2, first=4000, new=500, out=out_long, delay=0.5))
    return trajs


class _Watched(VirtualLoad):
    """The virtual load, keeping every result and how many agents were on their way out."""

    def __init__(self, trajectories: list[Trajectory]) -> None:
        super().__init__(small_rack_shape(), trajectories, seed=1, tool_delay="recorded")
        self.results: list[RequestResult] = []
        self.leaving_at: dict[float, int] = {}

    def advance(self, seconds: float) -> list[RequestResult]:
        out = super().advance(seconds)
        self.results += out
        self.leaving_at[self.now] = self.leaving_agents
        return out


def _sweep(ns: list[int], out_long: int = 12_000) -> tuple[_Watched, SearchPlan]:
    load = _Watched(_with_long_replies(out_long))
    plan = SearchPlan(
        mode="sweep", sweep=ns, tier=TIER, fast_cap_s=60, warmup_s=10, fast_min_s=20, gpu_count=24
    )
    return load, plan


def test_a_lower_level_after_overload_holds_once_the_retired_agents_left_and_counts_what_it_sends() -> None:
    """1,500 agents swamp 512 decode slots. Going down to 300 retires 1,200 agents, most with a
    request still queued or streaming: the deployment serves more than 300 agents until those are
    in, so the lower level holds (its warm-up starts) only once at most 1% of 300 are left. Its
    window then counts the requests it sends, none of them a retired agent's, and passes."""
    load, plan = _sweep([1500, 300], out_long=2000)
    res = run_search_virtual(plan, load)
    over, lower = res.levels
    assert over.verdict == "fail" and over.ttft_verdict == "fail" and over.open_counted > 0
    assert lower.held_at is not None and lower.measure_from is not None and lower.window_end is not None
    assert load.leaving_at[lower.started_at + 1.0] > 300, "the retired agents were still finishing"
    assert lower.held_at - lower.started_at > 10 and load.leaving_at[lower.held_at] <= 3
    assert lower.requests - lower.open_counted > 100, "finished requests counted at the lower N"
    assert lower.verdict == "pass" and lower.failing_criterion is None
    in_window = [r for r in load.results if lower.measure_from <= r.t_intended < lower.window_end]
    assert len(in_window) == lower.requests - lower.open_counted
    assert all(r.agent_id < 300 for r in in_window), "a retired agent's request counted at the lower N"


def test_requests_stuck_in_the_engine_are_open_and_fail_the_level_on_ttft() -> None:
    """With three times more agents than decode slots, requests queue in the engine for a slot:
    they are reported in flight without a first token, under the key their result will carry, and
    the level fails on TTFT with them counted, not for want of data."""
    trajs = [token_trajectory(f"t{i}", turns=4, first=2000, new=200, out=2000, delay=0.5) for i in range(4)]
    load = VirtualLoad(small_rack_shape(), trajs, seed=1, tool_delay="recorded", join_spread_s=20)
    plan = SearchPlan(mode="fixed", fixed_n=1500, tier=TIER, fast_cap_s=60, warmup_s=0, fast_min_s=10)
    res = run_search_virtual(plan, load)
    (rec,) = res.levels
    assert rec.requests > 0 and rec.open_counted > 0
    assert rec.ttft_verdict == "fail" and "ttft" in (rec.failing_criterion or "")
    waiting = load.engine.waiting
    assert len(waiting) > 100, "requests wait for a decode slot"
    opens = {o.key: o for o in load.open_requests()}
    queued = [opens[k] for k in opens if opens[k].t_first_token is None]
    assert len(queued) >= len(waiting)
    # each open request's key is the key of its result once it finishes
    results = []
    for _ in range(600):
        results += load.advance(1.0)
        if all(k in {key_of(r) for r in results} for k in list(opens)[:50]):
            break
    done = {key_of(r): r for r in results}
    sample = list(opens)[:50]
    assert all(k in done for k in sample)
    assert all(done[k].t_intended == opens[k].t_intended for k in sample)


def test_a_level_with_nothing_to_count_is_reported_as_no_data() -> None:
    """At 100 agents every agent is streaming a minutes-long reply sent before the window, so no
    request is sent in it: the level counts as a fail whose criterion is 'no data', and the answer
    says N* may be higher."""
    load, plan = _sweep([400, 100])
    res = run_search_virtual(plan, load)
    high, low = res.levels
    assert high.passed and high.requests > 0
    assert low.requests == 0 and not low.passed and low.failing_criterion == "no data"
    assert low.tiers[0].word() == "no data"
    assert "no data" in level_row(low)
    r = res.primary
    assert r.first_fail_n == 100 and r.failing_criterion == "no data"
    assert any(n.startswith("N=100 ended with no data") and n.endswith("N* may be higher") for n in r.notes)
    assert "first failing N = 100 (no data)" in answer_line(res, 1.0)
