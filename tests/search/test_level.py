"""One level's lifecycle on hand-made request records: phases, the window, verdicts, rules."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.level import Level
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.window import OpenRequest
from agentperf_tui.core.tiers import custom_tier

TIER = custom_tier(50, 4)


def req(agent: int, t: float, *, ttft: float = 1.0, speed: float = 100.0, tokens: int = 101,
        ok: bool = True) -> RequestResult:
    first = t + ttft
    last = first + (tokens - 1) / speed
    return RequestResult(
        agent_id=agent, trajectory_id="x", replay=0, turn=0, t_intended=t, t_sent=t,
        t_end=last if ok else first, ok=ok,
        t_first_token=first if ok else None, t_last_token=last if ok else None,
        output_tokens=tokens if ok else None, client_output_tokens=tokens if ok else 0,
    )


def test_phases_and_only_requests_sent_after_warmup_count() -> None:
    plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=10, fast_min_s=0, min_requests=5)
    lv = Level(0, 2, "ramp", 0.0, plan)
    lv.feed(1.0, [], [], active_agents=1)
    assert lv.phase == "transition" and "2 agents" in (lv.view().reason or "")
    lv.feed(2.0, [], [], active_agents=2)
    assert lv.phase == "warmup" and lv.held_at == 2.0
    lv.feed(3.0, [], [], active_agents=1)  # an agent dropped out: back to transition
    assert lv.phase == "transition" and lv.held_at is None
    lv.feed(4.0, [], [], active_agents=2)
    assert lv.phase == "warmup" and lv.held_at == 4.0
    # a terrible request sent during warm-up must not count
    lv.feed(13.0, [req(0, 5.0, ttft=100.0)], [], active_agents=2)
    assert lv.phase == "warmup"
    lv.feed(14.0, [], [], active_agents=2)
    assert lv.phase == "measuring" and lv.measure_from == 14.0
    assert lv.view().requests == 0


def test_verdict_waits_for_every_request_sent_in_the_window_when_open_requests_are_unknown() -> None:
    """Without knowing the requests in flight, a slow one must hold the decision back."""
    plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=0, fast_min_s=0, min_requests=1, fast_cap_s=1000)
    lv = Level(0, 2, "ramp", 0.0, plan)
    lv.feed(0.0, [], [], active_agents=2)
    assert lv.phase == "measuring"
    # agent 1 sent at t=0.5 and is stuck until t=620.5; agent 0 keeps reporting good requests
    fed = [req(0, 0.1 + i * 2.5) for i in range(250)]
    lv.feed(620.0, fed, [], active_agents=2)
    assert not lv.done and lv.win.complete_through() is None
    assert "1/2 agents" in (lv.view().reason or "")
    rec = lv.feed(621.0, [req(1, 0.5, ttft=620.0)], [], active_agents=2)
    assert rec is not None and rec.verdict == "pass"
    # the slow request is inside the window the verdict was taken on
    assert rec.window_end is not None and rec.window_end > 0.5
    assert rec.requests == 1 + sum(1 for r in fed if r.t_intended < rec.window_end)


def test_a_request_still_open_counts_as_the_miss_it_already_is() -> None:
    """The same stuck request, seen in flight: it is judged at once as a censored TTFT miss
    (TTFT at least its 619.5 s so far), and the window runs up to now."""
    plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=0, fast_min_s=0, min_requests=1, fast_cap_s=1000)
    lv = Level(0, 2, "ramp", 0.0, plan)
    stuck = OpenRequest(agent_id=1, t_intended=0.5, t_first_token=None, requested_tokens=101)
    lv.feed(0.0, [], [], active_agents=2, opens=lambda: [stuck])
    fed = [req(0, 0.1 + i * 2.5) for i in range(250)]
    rec = lv.feed(620.0, fed, [], active_agents=2)
    assert rec is not None and rec.open_counted == 1 and rec.window_end == 620.0
    assert rec.requests == 1 + sum(1 for r in fed if r.t_intended < 620.0)
    assert rec.verdict == "pass", "1 miss in 249 is within the P95 limit"
    # with 20 of 40 agents stuck the level fails, at once, on requests it never saw finish
    lv = Level(0, 40, "ramp", 0.0, plan)
    stuck_many = [OpenRequest(a, 0.5, None, 101) for a in range(20, 40)]
    lv.feed(0.0, [], [], active_agents=40, opens=lambda: stuck_many)
    rec = lv.feed(60.0, [req(a % 20, 1.0 + a * 0.1) for a in range(200)], [], active_agents=40)
    assert rec is not None and rec.verdict == "fail" and rec.ttft_verdict == "fail"
    assert rec.open_counted == 20 and rec.failed == 0


def test_an_open_stream_too_slow_to_reach_the_floor_counts_against_speed() -> None:
    """A stream whose first token came 10 s ago and that must still deliver 101 tokens can reach at
    most 10 tok/s: below a 50 tok/s floor whatever the rest of the stream does."""
    plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=0, fast_min_s=0, min_requests=1, fast_cap_s=1000)
    lv = Level(0, 40, "ramp", 0.0, plan)
    dripping = [OpenRequest(a, 1.0, 2.0, 101) for a in range(10, 40)]
    lv.feed(0.0, [], [], active_agents=40, opens=lambda: dripping)
    rec = lv.feed(12.0, [req(a % 10, 1.0 + 0.01 * a) for a in range(30)], [], active_agents=40)
    assert rec is not None and rec.speed_verdict == "fail" and rec.open_counted == 30


def test_the_window_ends_where_a_request_that_may_still_meet_the_tier_was_sent() -> None:
    """Requests in flight that may still meet the tier cannot be judged yet: the window the level
    is judged on ends at the send time of the oldest of them, so every request sent before its end
    is accounted for."""
    plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=0, fast_min_s=0, min_requests=1, fast_cap_s=1000)
    lv = Level(0, 40, "ramp", 0.0, plan)
    fresh = [OpenRequest(a, 59.0, None, 101) for a in range(20, 39)]  # sent 1 s ago, no token yet
    long_stream = OpenRequest(39, 30.0, 30.5, 10_000)  # can still reach 339 tok/s
    lv.feed(0.0, [], [], active_agents=40, opens=lambda: [*fresh, long_stream])
    rec = lv.feed(60.0, [req(a % 20, 1.0 + a * 0.1) for a in range(200)], [], active_agents=40)
    assert rec is not None and rec.window_end == 30.0 and rec.open_counted == 0
    assert rec.verdict == "pass" and rec.requests == 200


def test_a_long_stream_sent_before_the_window_does_not_hold_it_back() -> None:
    """A reply sent during the previous level (before measure_from) that streams on for minutes is
    not in this level's window: the window runs up to now on the requests sent inside it."""
    plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=10, fast_min_s=0, min_requests=1, fast_cap_s=1000)
    lv = Level(1, 40, "bisect", 100.0, plan)
    earlier = OpenRequest(39, 60.0, 61.0, 100_000)  # can still reach 2000 tok/s: not a miss yet
    lv.feed(100.0, [], [], active_agents=40, opens=lambda: [earlier])
    lv.feed(110.0, [], [], active_agents=40)
    assert lv.measure_from == 110.0
    rec = lv.feed(170.0, [req(a % 39, 111.0 + a * 0.1) for a in range(300)], [], active_agents=40)
    assert rec is not None and rec.window_end == 170.0 and rec.requests == 300
    assert rec.open_counted == 0 and rec.verdict == "pass"


def test_failed_requests_count_against_both_criteria() -> None:
    plan = SearchPlan(tier=TIER, rigour="strict", warmup_s=0, min_steady_s=10, min_trajectories=0,
                      min_trajectories_per_agent=0)
    lv = Level(0, 1, "fixed", 0.0, plan)
    lv.feed(0.0, [], [], active_agents=1)
    # 90 fast good requests and 10 failures: P95 TTFT is inf, P25 speed still fine
    rs = [req(0, 0.1 * i, ttft=0.05, speed=200.0, tokens=3) for i in range(90)]
    rs += [req(0, 9.0 + 0.01 * i, ok=False) for i in range(10)]
    lv.feed(20.0, rs, [], active_agents=1)
    lv.feed(21.0, [req(0, 20.5, ttft=0.01, speed=500.0, tokens=2)], [], active_agents=1)
    rec = lv.record
    assert rec is not None
    assert rec.requests == 100 and rec.failed == 10
    assert rec.ttft_p95 == math.inf and rec.ttft_verdict == "fail" and rec.speed_verdict == "pass"
    assert rec.verdict == "fail" and rec.failing_criterion == "ttft" and not rec.passed
    # 30% failures break the speed criterion too (failed = speed 0)
    lv = Level(0, 1, "fixed", 0.0, plan)
    lv.feed(0.0, [], [], active_agents=1)
    rs = [req(0, 0.1 * i, ttft=0.05, speed=200.0, tokens=3) for i in range(70)]
    rs += [req(0, 8.0 + 0.01 * i, ok=False) for i in range(30)]
    lv.feed(20.0, rs, [], active_agents=1)
    rec = lv.feed(21.0, [req(0, 20.5, ttft=0.01, tokens=2)], [], active_agents=1)
    assert rec is not None and rec.speed_p25 == 0.0 and rec.failing_criterion == "speed+ttft"


def _steady(lv: Level, n_agents: int, t_end: float, *, ttft: float, speed: float | Callable[[int], float],
            cycle: float = 2.0, traj_every: int = 5) -> None:
    """Feed n_agents sequential agents, one tick per second, trajectories every `traj_every` requests."""
    t = lv._now
    nxt = {a: t + 0.01 * a for a in range(n_agents)}
    count = dict.fromkeys(range(n_agents), 0)
    while t < t_end and not lv.done:
        t += 1.0
        out, trajs = [], []
        for a in range(n_agents):
            while True:
                sp = speed(count[a]) if callable(speed) else speed
                r = req(a, nxt[a], ttft=ttft, speed=sp)
                if r.t_end > t:
                    break
                out.append(r)
                count[a] += 1
                if count[a] % traj_every == 0:
                    trajs.append((a, r.t_end - 10, r.t_end))
                nxt[a] = r.t_end + (cycle - (r.t_end - r.t_intended)) % cycle + 0.5
        lv.feed(t, out, trajs, active_agents=n_agents)


def test_strict_needs_ten_minutes_and_the_trajectory_counts() -> None:
    plan = SearchPlan(tier=TIER, rigour="strict")
    lv = Level(0, 4, "ramp", 0.0, plan)
    _steady(lv, 4, 400.0, ttft=0.3, speed=120.0)
    assert not lv.done  # an obvious pass still runs the full published window
    _steady(lv, 4, 2000.0, ttft=0.3, speed=120.0)
    rec = lv.record
    assert rec is not None and rec.passed and rec.verdict == "pass"
    assert rec.meets_rules is True
    assert rec.window_s >= 600
    assert rec.trajectories_completed >= 30 and rec.agents_with_min_trajectories == 4
    assert rec.held_at is not None and rec.measure_from == rec.held_at + 30.0


def test_strict_cap_when_trajectories_never_complete() -> None:
    plan = SearchPlan(tier=TIER, rigour="strict", strict_cap_s=900)
    lv = Level(0, 2, "ramp", 0.0, plan)
    _steady(lv, 2, 3000.0, ttft=0.3, speed=120.0, traj_every=10_000)
    rec = lv.record
    assert rec is not None and rec.meets_rules is False
    assert "not met" in rec.reason


def test_fast_settles_clear_levels_early_and_reports_confidence() -> None:
    plan = SearchPlan(tier=TIER, rigour="fast")
    good = Level(0, 8, "ramp", 0.0, plan)
    _steady(good, 8, 2000.0, ttft=0.3, speed=120.0)
    assert good.record is not None and good.record.verdict == "pass" and good.record.settled
    assert good.record.confidence == 0.95
    # settled at the first look allowed: as soon as the minimum window has passed
    assert good.record.window_s < plan.fast_min_s + 10
    bad = Level(0, 8, "ramp", 0.0, plan)
    _steady(bad, 8, 2000.0, ttft=9.0, speed=120.0)
    assert bad.record is not None and bad.record.verdict == "fail" and bad.record.settled
    assert bad.record.ttft_verdict == "fail" and bad.record.failing_criterion == "ttft"
    assert bad.record.window_s < plan.fast_min_s + 10


def test_fast_borderline_level_ends_undecided_at_the_cap() -> None:
    plan = SearchPlan(tier=TIER, rigour="fast", fast_cap_s=120)
    lv = Level(0, 4, "ramp", 0.0, plan)
    # one request in five below the floor: the P25 estimate passes, but too narrowly to settle
    _steady(lv, 4, 1000.0, ttft=0.3, speed=lambda i: 40.0 if i % 5 == 0 else 60.0)
    rec = lv.record
    assert rec is not None and not rec.settled
    assert rec.speed_verdict == "undecided" and rec.verdict == "undecided"
    assert "time cap" in rec.reason
    assert rec.confidence is not None and rec.confidence < 0.95
    # the estimate meets the floor, so with undecided_as="estimate" the search counts it as a pass
    assert rec.passed
    lv = Level(0, 4, "ramp", 0.0, SearchPlan(tier=TIER, rigour="fast", fast_cap_s=120, undecided_as="fail"))
    _steady(lv, 4, 1000.0, ttft=0.3, speed=lambda i: 40.0 if i % 5 == 0 else 60.0)
    assert lv.record is not None and not lv.record.passed


def test_skip_and_discard() -> None:
    plan = SearchPlan(tier=TIER, rigour="strict")
    lv = Level(0, 2, "ramp", 0.0, plan)
    _steady(lv, 2, 200.0, ttft=0.3, speed=120.0)
    rec = lv.skip(200.0)
    assert rec.outcome == "skipped" and rec.passed and rec.requests > 0
    lv = Level(1, 2, "ramp", 0.0, plan)
    _steady(lv, 2, 200.0, ttft=0.3, speed=120.0)
    rec = lv.discard(200.0)
    assert rec.outcome == "discarded" and not rec.passed
    lv = Level(2, 2, "ramp", 0.0, plan)
    rec = lv.skip(5.0)
    assert rec.requests == 0 and not rec.passed and "no request counted" in rec.reason


def _fixed_run_cut_short(conclude: bool, ttft: float) -> tuple[object, object]:
    from agentperf_tui.core.search.controller import SearchController
    from agentperf_tui.core.search.energy import CounterWindow

    # Fast mode would need 60 s to settle; the run ends after 30 s.
    plan = SearchPlan(mode="fixed", fixed_n=2, tier=TIER, rigour="fast", warmup_s=1, gpu_count=2)
    ctl = SearchController(plan)
    assert ctl.start(0.0) == 2

    def energy(t0: float, t1: float) -> CounterWindow:
        return CounterWindow(energy_j=800.0 * (t1 - t0), mean_power_w=800.0, simulated=True)

    ctl.tick(0.5, [], [], active_agents=2, energy=energy)
    for t in range(2, 31):
        ctl.tick(float(t), [req(a, t - 1.0 + 0.1 * a, ttft=ttft, tokens=11) for a in range(2)], [], 2)
    assert ctl.level is not None and ctl.level.phase == "measuring", "still open when the run ends"
    return ctl.end_run(31.0, conclude=conclude), ctl


def test_a_fixed_run_that_reaches_its_duration_is_decided_on_what_it_measured() -> None:
    result, ctl = _fixed_run_cut_short(conclude=True, ttft=0.5)
    rec = ctl.records[-1]  # type: ignore[attr-defined]
    assert rec.outcome == "ended" and rec.verdict == "pass" and rec.passed
    assert "the run ended before the level settled" in rec.reason
    assert rec.mean_power_w == 800.0, "the level's power is measured like any settled level's"
    assert result is not None and result.primary.n_star == 2  # type: ignore[attr-defined]
    assert ctl.view().levels[-1].phase == "settled"  # type: ignore[attr-defined]
    failing, _ = _fixed_run_cut_short(conclude=True, ttft=9.0)
    assert failing is not None and failing.primary.n_star is None  # type: ignore[attr-defined]


def test_an_aborted_run_keeps_its_open_level_but_has_no_result() -> None:
    result, ctl = _fixed_run_cut_short(conclude=False, ttft=0.5)
    assert result is None and ctl.result() is None  # type: ignore[attr-defined]
    assert ctl.records[-1].outcome == "ended" and ctl.records[-1].requests > 0  # type: ignore[attr-defined]


def test_the_live_view_waits_for_a_sub_agent_request_older_than_its_agents_latest() -> None:
    """An agent that is a tree has several requests in flight: a later request of the same agent
    ending does not make an older one known. The live figures stop at the older one's send time."""
    plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=0, fast_min_s=0, min_requests=1, fast_cap_s=1000)
    lv = Level(0, 1, "ramp", 0.0, plan)
    slow = OpenRequest(0, 2.0, None, 101, trajectory_id="x", node="helper", turn=0)
    opens = [slow]
    lv.feed(0.0, [], [], active_agents=1, opens=lambda: opens)
    lv.feed(1.5, [req(0, 0.1, ttft=0.2)], [], active_agents=1)
    # the main agent's requests sent after the helper's go on ending while the helper waits
    later = [RequestResult(agent_id=0, trajectory_id="x", replay=0, turn=k, node="root", t_intended=2.5 + k,
                           t_sent=2.5 + k, t_end=3.0 + k, ok=True, t_first_token=2.7 + k,
                           t_last_token=3.0 + k, output_tokens=31) for k in range(5)]
    lv.feed(8.0, later, [], active_agents=1)
    assert lv.win.complete_through(opens) == 2.0
    assert lv.win.complete_through() == 7.0, "without the requests in flight: the agent's latest end"
    assert lv.view().requests == 1, "only the request sent before the open one is complete"
    opens = []
    done = RequestResult(agent_id=0, trajectory_id="x", replay=0, turn=0, node="helper", t_intended=2.0,
                         t_sent=2.0, t_end=8.5, ok=True, t_first_token=8.0, t_last_token=8.5,
                         output_tokens=101)
    lv.feed(9.0, [done], [], active_agents=1)
    assert lv.win.complete_through(opens) == 8.5
    assert lv.view().requests == 7


def test_a_search_level_with_no_data_makes_the_answer_uncertain() -> None:
    """N=16 passes; N=32 ends at its cap with nothing counted (no request finished, none open in
    its window). It counts as a fail, but the answer says so instead of passing it off as one."""
    from agentperf_tui.core.search.result import build_result
    from agentperf_tui.core.search.strategy import Bracket

    plan = SearchPlan(tier=TIER, rigour="fast", fast_cap_s=120, gpu_count=8)
    good = Level(0, 16, "ramp", 0.0, plan)
    _steady(good, 16, 2000.0, ttft=0.3, speed=120.0)
    empty = Level(1, 32, "ramp", 500.0, plan)
    for t in range(500, 800):
        empty.feed(float(t), [], [], active_agents=32, opens=lambda: [])
    rec = empty.record
    assert rec is not None and rec.requests == 0 and not rec.passed
    assert rec.failing_criterion == "no data" and rec.tiers[0].failing_criterion == "no data"
    assert good.record is not None
    bracket = Bracket(lo=16, hi=32, outcomes={16: [True], 32: [False]})
    res = build_result(plan, [bracket], [good.record, rec], 0.0, 800.0).primary
    assert res.n_star == 16 and res.first_fail_n == 32 and res.failing_criterion == "no data"
    assert res.notes == (
        "N=32 ended with no data (no request finished or open in its window) and was counted as a fail: "
        "N* may be higher",
    )


def test_at_the_cap_the_window_runs_past_a_few_long_replies_still_streaming() -> None:
    """A reply sent 1 s into the window streams past the cap: judged as before, the level would
    rest on its first second. At the cap the window runs on to now with that reply counted as a
    censored value (one request in a thousand), so the level is judged on its whole window (but
    its last TTFT limit, where requests may not have their first token yet)."""
    long_stream = OpenRequest(39, 1.0, 1.5, 100_000)  # can still reach the floor
    fed = [req(a % 39, 0.5 + 0.1 * a) for a in range(1150)]  # 39 agents, sent in [0.5, 115.5)

    def capped(fraction: float) -> object:
        plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=0, fast_min_s=60, fast_cap_s=120,
                          min_requests=1, cap_open_fraction=fraction)
        lv = Level(0, 40, "ramp", 0.0, plan)
        lv.feed(0.0, [], [], active_agents=40, opens=lambda: [long_stream])
        return lv.feed(120.0, fed, [], active_agents=40)

    rec = capped(0.01)
    assert rec is not None and rec.window_end == 120.0 - TIER.ttft_s, "up to one TTFT limit before now"
    assert rec.open_counted == 1 and rec.requests == 1151
    assert rec.verdict == "pass" and rec.settled and rec.looks == 1, "settled at the look the cap allows"
    # the window as the looks take it: up to the long reply's send time
    old = capped(0.0)
    assert old is not None and old.window_end == 1.0 and old.requests == 5 and old.open_counted == 0


def test_at_the_cap_the_window_stops_where_open_requests_would_be_too_many() -> None:
    """Twenty replies still streaming, sent from 2 s to 11.5 s, are 1 in 10 of the requests sent
    in the window: more than the 1% allowed wherever it ends, so it ends at the first of them, as
    at any look."""
    plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=0, fast_min_s=60, fast_cap_s=120, min_requests=1)
    streaming = [OpenRequest(20 + k, 2.0 + k * 0.5, 3.0 + k * 0.5, 100_000) for k in range(20)]
    lv = Level(0, 40, "ramp", 0.0, plan)
    lv.feed(0.0, [], [], active_agents=40, opens=lambda: streaming)
    rec = lv.feed(120.0, [req(a % 20, 0.5 + 0.1 * a) for a in range(200)], [], active_agents=40)
    assert rec is not None and rec.window_end == 2.0 and rec.open_counted == 0


def test_an_overloaded_level_with_nothing_finished_says_it_failed_on_ttft_with_what_is_known() -> None:
    """Every request of the window is still waiting for its first token, each already past the
    TTFT limit (open requests do not bring a look forward: it is judged at the cap). The level
    fails on TTFT, its P95 TTFT is what the requests have waited so far (a lower bound), and its
    P25 speed is unknown (no request has streamed), not 0 and not a speed failure."""
    plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=0, fast_min_s=0, min_requests=1, fast_cap_s=60)
    lv = Level(0, 40, "ramp", 0.0, plan)
    waiting = [OpenRequest(a, 1.0 + 0.25 * a, None, 101) for a in range(40)]
    lv.feed(0.0, [], [], active_agents=40, opens=lambda: waiting)
    rec = lv.feed(60.0, [], [], active_agents=40)
    assert rec is not None and rec.verdict == "fail" and rec.open_counted == 40 and rec.requests == 40
    assert rec.failing_criterion == "ttft" and rec.ttft_verdict == "fail"
    waited = sorted(60.0 - o.t_intended for o in waiting)
    assert rec.ttft_p95 == pytest.approx(float(np.quantile(waited, 0.95)))
    assert math.isnan(rec.speed_p25)
    (tier,) = rec.tiers
    assert tier.failing_criterion == "ttft" and math.isnan(tier.speed_p25)
    assert "still open, each at the best it can still reach" in (rec.reason or "")


def test_a_level_failing_on_slow_streams_reports_the_fastest_they_can_still_be() -> None:
    """Half the window is streams that started on time but can no longer reach the floor: the
    level fails on speed alone, and its P25 speed is the highest the window can still reach (the
    open streams at their best), not 0; its P95 TTFT is the measured one."""
    plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=0, fast_min_s=0, min_requests=1, fast_cap_s=1000)
    lv = Level(0, 40, "ramp", 0.0, plan)
    slow = [OpenRequest(a, 1.0 + 0.1 * a, 1.5 + 0.1 * a, 101) for a in range(20, 40)]  # <= 10 tok/s
    lv.feed(0.0, [], [], active_agents=40, opens=lambda: slow)
    fed = [req(a, 1.0 + 0.1 * a, ttft=0.5, speed=100.0) for a in range(20)]
    rec = lv.feed(12.0, fed, [], active_agents=40)
    assert rec is not None and rec.verdict == "fail" and rec.failing_criterion == "speed"
    assert rec.ttft_verdict != "fail" and rec.ttft_p95 == pytest.approx(0.5)
    best = sorted([100.0] * 20 + [100 / (12.0 - o.t_first_token) for o in slow if o.t_first_token])
    assert rec.speed_p25 == pytest.approx(float(np.quantile(best, 0.25))) and 0 < rec.speed_p25 < 50


def test_a_level_holds_only_once_the_agents_it_retired_have_left() -> None:
    """After N shrinks, agents on their way out still have requests in flight: the deployment
    serves more than N until they are in. The level holds (its warm-up starts) once at most 1% of
    N of them are left."""
    plan = SearchPlan(tier=TIER, rigour="fast", warmup_s=10, fast_min_s=0, min_requests=5)
    lv = Level(1, 200, "bisect", 100.0, plan)
    lv.feed(101.0, [], [], active_agents=200, leaving_agents=40)
    assert lv.phase == "transition" and "40 retired agents" in (lv.view().reason or "")
    lv.feed(102.0, [], [], active_agents=200, leaving_agents=3)
    assert lv.phase == "transition"
    lv.feed(103.0, [], [], active_agents=200, leaving_agents=2)
    assert lv.phase == "warmup" and lv.held_at == 103.0
    strict = Level(1, 200, "bisect", 100.0, SearchPlan(tier=TIER, hold_leaving_fraction=0.0))
    strict.feed(101.0, [], [], active_agents=200, leaving_agents=1)
    assert strict.phase == "transition"
