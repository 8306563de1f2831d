"""VirtualLoad: simulated agents on the virtual clock (closed loop, staggered joins, retirement at
turn boundaries, determinism, power)."""

from __future__ import annotations

import itertools
import random
import statistics
from collections import defaultdict

import pytest

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.simulator.virtual import VirtualLoad, baseline_tool_delay, load_deployment
from agentperf_tui.core.workload.trajectory import Trajectory

from .workloads import text_trajectory, token_trajectory

DEP = load_deployment("h100-sxm", "llama-3.3-70b")


def _trajs() -> list[Trajectory]:
    return [token_trajectory(f"t{k}", turns=4, first=1500 + 500 * k, out=60 + 20 * k) for k in range(3)]


def test_same_seed_same_results() -> None:
    runs = []
    for _ in range(2):
        vl = VirtualLoad(DEP, _trajs(), seed=5, tool_delay="baseline")
        vl.set_concurrency(6)
        runs.append([(r.agent_id, r.turn, r.t_first_token, r.t_last_token) for r in vl.advance(40.0)])
    assert runs[0] == runs[1] and len(runs[0]) > 20


def test_closed_loop_each_agent_sends_its_turns_in_order_after_the_tool_delay() -> None:
    vl = VirtualLoad(DEP, _trajs(), seed=1, tool_delay="recorded")
    vl.set_concurrency(5)
    res = vl.advance(60.0)
    by_agent: dict[int, list[RequestResult]] = defaultdict(list)
    for r in res:
        by_agent[r.agent_id].append(r)
    assert set(by_agent) == set(range(5))
    for rs in by_agent.values():
        rs.sort(key=lambda r: r.t_intended)
        for prev, nxt in itertools.pairwise(rs):
            assert prev.t_last_token is not None
            assert nxt.t_intended >= prev.t_last_token  # one request in flight per agent
            if nxt.turn == prev.turn + 1:
                assert nxt.t_intended == pytest.approx(prev.t_last_token + 0.5)  # recorded tool delay
            else:
                assert nxt.turn == 0 and nxt.replay == prev.replay + 1  # next trajectory at once
                assert nxt.t_intended == pytest.approx(prev.t_last_token)
    for r in res:
        assert r.ok and r.output_tokens == r.requested_output_tokens
        assert r.t_first_token is not None and r.t_last_token is not None
        assert r.t_intended <= r.t_first_token <= r.t_last_token <= 60.0


def test_agents_join_staggered_over_the_spread() -> None:
    vl = VirtualLoad(DEP, _trajs(), seed=1, join_spread_s=2.0)
    vl.set_concurrency(4)
    res = vl.advance(10.0)
    firsts = sorted(min(r.t_intended for r in res if r.agent_id == a) for a in range(4))
    assert firsts == pytest.approx([0.0, 0.5, 1.0, 1.5])
    assert vl.active_agents == 4


def test_retiring_agents_finish_their_request_then_stop() -> None:
    vl = VirtualLoad(DEP, _trajs(), seed=2)
    vl.set_concurrency(8)
    vl.advance(20.0)
    vl.set_concurrency(3)
    assert vl.active_agents == 3
    t_cut = vl.now
    res = vl.advance(30.0)
    late = [r for r in res if r.agent_id >= 3]
    assert all(r.t_intended < t_cut for r in late), "retired agents send nothing new"
    assert {r.agent_id for r in res if r.t_intended > t_cut + 1.0} <= {0, 1, 2}
    vl.set_concurrency(5)
    res = vl.advance(20.0)
    assert {r.agent_id for r in res if r.t_intended > vl.now - 15.0} == {0, 1, 2, 8, 9}


def test_completed_trajectories_are_reported_once() -> None:
    vl = VirtualLoad(DEP, [token_trajectory("short", turns=2, first=800, out=30, delay=0.2)], seed=3)
    vl.set_concurrency(3)
    vl.advance(30.0)
    done = vl.trajectories_completed()
    assert len(done) >= 6 and {a for a, _s, _e in done} == {0, 1, 2}
    assert all(0.0 <= s < e <= 30.0 for _a, s, e in done)
    assert vl.trajectories_completed() == []


def test_more_agents_slow_every_agent_down() -> None:
    p25 = []
    for n in (2, 16, 48):
        vl = VirtualLoad(DEP, _trajs(), seed=4)
        vl.set_concurrency(n)
        vl.advance(20.0)
        res = vl.advance(60.0)
        speeds = sorted(r.output_speed for r in res)
        p25.append(speeds[len(speeds) // 4])
    assert p25[0] > p25[1] > p25[2]


def test_power_and_energy_are_consistent() -> None:
    vl = VirtualLoad(DEP, _trajs(), seed=1)
    idle = DEP.hardware.idle_w * DEP.gpu_count
    vl.advance(5.0)
    assert vl.power_w() == pytest.approx(idle)
    assert vl.energy_j == pytest.approx(idle * 5.0)
    vl.set_concurrency(16)
    e0 = vl.energy_j
    vl.advance(30.0)
    assert idle < vl.power_w() < DEP.hardware.tdp_w * DEP.gpu_count
    assert vl.energy_j - e0 == pytest.approx(vl.power_w() * 30.0)


def test_text_trajectories_count_their_messages_with_the_simulator_tokenizer() -> None:
    vl = VirtualLoad(DEP, [text_trajectory("txt")], seed=1)
    vl.set_concurrency(1)
    res = sorted(vl.advance(10.0), key=lambda r: r.t_intended)[:3]
    assert [r.turn for r in res] == [0, 1, 2]
    prompts = [r.prompt_tokens or 0 for r in res]
    assert prompts[0] < prompts[1] < prompts[2]
    assert res[1].cached_tokens == prompts[0] // 16 * 16


def test_baseline_tool_delay_matches_the_published_shape() -> None:
    rng = random.Random(0)
    d = [baseline_tool_delay(rng) for _ in range(4000)]
    assert min(d) >= 0.1 and max(d) <= 5.0
    assert 0.85 < statistics.median(d) < 1.15


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one trajectory"):
        VirtualLoad(DEP, [], seed=0)
    with pytest.raises(ValueError, match="tool_delay"):
        VirtualLoad(DEP, _trajs(), seed=0, tool_delay="random")  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["replicas", "rack"])
def test_open_requests_say_what_each_request_in_flight_has_got(engine: str) -> None:
    """The requests in flight, as the load keeps them from tick to tick, are what the engine's
    own state says at each moment: every agent's request, sent when it was due, with its first
    token once it has come; and each finishes under the key it was reported with."""
    from .workloads import small_rack_shape

    dep = DEP if engine == "replicas" else small_rack_shape()
    vl = VirtualLoad(dep, _trajs(), seed=3, tool_delay="baseline")
    vl.set_concurrency(40)
    seen: dict[tuple[int, str, int, str, int], float] = {}
    with_first = 0
    for tick in range(40):
        done = vl.advance(0.5)
        for r in done:
            key = (r.agent_id, r.trajectory_id, r.replay, r.node, r.turn)
            if key in seen:
                assert seen.pop(key) == r.t_intended
        if tick == 20:
            vl.set_concurrency(25)  # retiring agents' requests stay in flight until they finish
        opens = {o.agent_id: o for o in vl.open_requests()}
        flying = {a.agent_id: a for a in vl._agents.values() if a.in_flight is not None}
        assert opens.keys() == flying.keys()
        for aid, o in opens.items():
            req = flying[aid].in_flight
            assert req is not None and o.t_intended == flying[aid].t_intended
            assert o.t_first_token == (req.t_first if req.t_first <= vl.now else None)
            with_first += o.t_first_token is not None
            seen[o.key] = o.t_intended
    assert with_first > 100
