"""The engine model on its own (no clock, no HTTP): batching, chunked prefill, prefix cache,
preemption, EOS model, power accounting."""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

import pytest

from agentperf_tui.core.simulator.engine import Engine, RequestRejected, SimRequest
from agentperf_tui.core.simulator.profiles import Deployment, EngineConfig, load_deployment
from agentperf_tui.core.simulator.roofline import Roofline


def _dep(**engine: Any) -> Deployment:
    return load_deployment("h100-sxm", "llama-3.3-70b", gpus_per_replica=2, engine=EngineConfig(**engine))


def _hashes(tag: int, tokens: int) -> list[int]:
    return [tag * 1_000_000 + i for i in range(tokens // 16)]


def _run(e: Engine, reqs: list[SimRequest], t: float = 0.0) -> None:
    for r in reqs:
        e.submit(r, t)
    e.run_until(math.inf)


def _pool_is_consistent(e: Engine) -> None:
    for rep in e.replicas:
        pool = rep.pool
        private = sum(r.private for r in rep.running)
        assert pool.free + len(pool.refs) + private == pool.total
        held = sum(len(r.shared) for r in rep.running)
        assert sum(pool.refs.values()) == held


def test_lone_request_ttft_is_one_prefill_step_and_decode_is_uniform() -> None:
    e = Engine(_dep())
    r = e.new_request(1000, _hashes(1, 1000), 0.0, max_tokens=50, ignore_eos=True)
    _run(e, [r])
    prefill = e.roofline.step(1000, 1000 * 1001 / 2, 0, 0, 0).duration
    assert r.t_first == pytest.approx(prefill)
    assert r.out == 50 and r.finished and r.finish_reason == "length"
    step = (r.t_last - r.t_first) / 49
    assert step == pytest.approx(e.roofline.step(0, 0, 0, 1, 1025).duration, rel=0.02)


def test_chunked_prefill_spreads_a_long_prompt_over_budget_sized_steps() -> None:
    e = Engine(_dep(max_num_batched_tokens=2048))
    r = e.new_request(10_000, _hashes(1, 10_000), 0.0, max_tokens=2, ignore_eos=True)
    e.submit(r, 0.0)
    while math.isnan(r.t_first):
        e.run_until(e.next_time())
    # the step that finished the prompt emitted the first token; the next one has begun
    assert e.counters.steps - 1 == math.ceil(10_000 / 2048)


def test_decode_of_running_requests_continues_while_a_new_prompt_is_chunked() -> None:
    e = Engine(_dep(max_num_batched_tokens=2048))
    a = e.new_request(500, _hashes(1, 500), 0.0, max_tokens=200, ignore_eos=True)
    _run_until_first(e, a)
    b = e.new_request(20_000, _hashes(2, 20_000), a.t_first, max_tokens=5, ignore_eos=True)
    e.submit(b, a.t_first)
    out_before = a.out
    while math.isnan(b.t_first):
        e.run_until(e.next_time())
    # a decoded one token in each of the steps that carried b's chunks
    assert a.out - out_before >= math.ceil(20_000 / 2048) - 1


def _run_until_first(e: Engine, r: SimRequest) -> None:
    e.submit(r, 0.0)
    while math.isnan(r.t_first):
        e.run_until(e.next_time())


def test_prefix_cache_hits_a_repeated_prompt_but_recomputes_the_last_token() -> None:
    e = Engine(_dep())
    a = e.new_request(3000, _hashes(7, 3000), 0.0, max_tokens=5, ignore_eos=True)
    _run(e, [a])
    b = e.new_request(3000, _hashes(7, 3000), a.t_last, max_tokens=5, ignore_eos=True)
    _run(e, [b], a.t_last)
    assert a.cached_tokens == 0
    assert b.cached_tokens == (3000 - 1) // 16 * 16
    assert b.t_first - b.t_arrival < (a.t_first - a.t_arrival) / 5
    c = e.counters
    assert c.prefix_queries == 6000 and c.prefix_hits == b.cached_tokens
    _pool_is_consistent(e)


def test_a_growing_conversation_hits_its_previous_prompt() -> None:
    e = Engine(_dep())
    prev: list[int] = []
    cached = []
    t = 0.0
    for turn in range(4):
        prompt = 2000 + 500 * turn
        hashes = prev[:] + [10_000 * (turn + 1) + i for i in range(prompt // 16 - len(prev))]
        r = e.new_request(prompt, hashes, t, max_tokens=10, ignore_eos=True)
        _run(e, [r], t)
        cached.append(r.cached_tokens)
        prev = hashes
        t = r.t_last + 0.5
    assert cached[0] == 0
    assert all(cached[k] == (2000 + 500 * (k - 1)) // 16 * 16 for k in range(1, 4))


def test_memory_pressure_preempts_and_every_request_still_gets_its_exact_length() -> None:
    dep = _dep()
    e = Engine(dep)
    per = dep.kv_capacity_tokens // 6  # 10 requests that grow past the cache together
    reqs = [e.new_request(per - 2000, _hashes(k + 1, per - 2000), 0.0, max_tokens=1500, ignore_eos=True)
            for k in range(10)]
    _run(e, reqs)
    assert e.counters.preemptions > 0
    assert all(r.finished and r.out == 1500 for r in reqs)
    assert any(r.preemptions for r in reqs)
    rep = e.replicas[0]
    assert not rep.running and not rep.waiting
    assert rep.pool.free + len(rep.pool.lru) == rep.pool.total and rep.pool.used == 0


def test_eos_model_stops_early_unless_ignore_eos_and_respects_min_tokens() -> None:
    e = Engine(_dep(eos_mean_tokens=100), seed=3)
    natural = [e.new_request(100, [], 0.0, max_tokens=1000) for _ in range(300)]
    lengths = [r.target for r in natural]
    assert all(1 <= n <= 1000 for n in lengths)
    assert 70 < statistics.mean(lengths) < 130
    assert {r.finish_reason for r in natural} == {"stop"}
    floor = [e.new_request(100, [], 0.0, max_tokens=1000, min_tokens=400) for _ in range(50)]
    assert all(r.target >= 400 for r in floor)
    exact = [e.new_request(100, [], 0.0, max_tokens=1000, ignore_eos=True) for _ in range(20)]
    assert all(r.target == 1000 and r.finish_reason == "length" for r in exact)


def test_requests_beyond_the_context_limit_are_rejected_with_vllm_wording() -> None:
    e = Engine(_dep())
    with pytest.raises(RequestRejected, match="maximum context length is 131072"):
        e.new_request(131_000, [], 0.0, max_tokens=500)
    with pytest.raises(RequestRejected, match="empty"):
        e.new_request(0, [], 0.0, max_tokens=5)


def test_moe_expert_traffic_grows_with_batch_and_saturates() -> None:
    rl = Roofline(load_deployment("h100-sxm", "gpt-oss-120b", gpus_per_replica=1))
    sizes = [rl.expert_bytes(n) for n in (1, 2, 8, 32, 128, 1024)]
    assert sizes == sorted(sizes)
    all_experts = rl.bytes_per_expert * rl.experts
    assert sizes[0] == pytest.approx(all_experts * 4 / 128)
    assert sizes[-1] == pytest.approx(all_experts, rel=1e-6)
    dense = Roofline(load_deployment("h100-sxm", "llama-3.3-70b", gpus_per_replica=2))
    assert dense.expert_bytes(64) == 0.0


def test_idle_engine_draws_idle_power_and_work_draws_between_idle_and_tdp() -> None:
    dep = _dep()
    e = Engine(dep)
    idle = dep.hardware.idle_w * dep.gpu_count
    e0 = e.energy_j(10.0)
    assert e0 == pytest.approx(idle * 10.0)
    reqs = [e.new_request(2000, _hashes(k + 1, 2000), 10.0, max_tokens=300, ignore_eos=True)
            for k in range(16)]
    _run(e, reqs, 10.0)
    end = max(r.t_last for r in reqs)
    e1 = e.energy_j(end)
    busy_power = (e1 - e0) / (end - 10.0)
    assert idle < busy_power < dep.hardware.tdp_w * dep.gpu_count
    assert e.energy_j(end + 5.0) - e1 == pytest.approx(idle * 5.0)


def test_replicas_share_load_and_keep_a_conversation_on_its_cached_replica() -> None:
    dep = load_deployment("h100-sxm", "llama-3.3-70b", gpus_per_replica=2, replicas=2)
    e = Engine(dep)
    first = [e.new_request(1000, _hashes(k + 1, 1000), 0.0, max_tokens=20, ignore_eos=True) for k in range(8)]
    for r in first:
        e.submit(r, 0.0)
    assert {r.replica for r in first} == {0, 1}
    e.run_until(math.inf)
    t = max(r.t_last for r in first)
    again = [e.new_request(1200, [*_hashes(k + 1, 1000), 99], t, max_tokens=20, ignore_eos=True)
             for k in range(8)]
    for r, old in zip(again, first, strict=True):
        e.submit(r, t)
        assert r.replica == old.replica
    e.run_until(math.inf)
    assert all(r.cached_tokens >= 992 for r in again)


def test_block_accounting_survives_shared_prefixes_preemption_and_aborts() -> None:
    rng = random.Random(7)
    dep = _dep(max_num_batched_tokens=4096)
    e = Engine(dep, seed=1)
    cap = dep.kv_capacity_tokens
    reqs: list[SimRequest] = []
    t = 0.0
    for k in range(120):
        family = rng.randrange(6)  # requests of a family share a prefix
        prompt = rng.randrange(cap // 40, cap // 8)
        shared = _hashes(family + 1, prompt // 2)
        hashes = shared + [10**12 + k * 10**6 + i for i in range(prompt // 16 - len(shared))]
        r = e.new_request(prompt, hashes, t, max_tokens=rng.randrange(1, 400), ignore_eos=rng.random() < 0.7)
        e.submit(r, t)
        reqs.append(r)
        t += rng.expovariate(20.0)
        e.run_until(t)
        _pool_is_consistent(e)
        if rng.random() < 0.1:
            victim = rng.choice(reqs)
            e.abort(victim, t)
            _pool_is_consistent(e)
    e.run_until(math.inf)
    assert e.counters.preemptions > 0 and e.counters.prefix_hits > 0
    for r in reqs:
        assert r.finished
        if not r.aborted:
            assert r.out == r.target and r.t_first <= r.t_last
    pool = e.replicas[0].pool
    assert pool.used == 0 and all(v == 0 for v in pool.refs.values())
    assert pool.free + len(pool.lru) == pool.total
