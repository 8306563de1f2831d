"""The rack-scale engine's clock: an event heap instead of a scan, batched runs between the
load's reactions, and compact block identities give the same answers as the plain way."""

from __future__ import annotations

import random

from agentperf_tui.core.simulator.block_runs import BlockRuns, common_prefix
from agentperf_tui.core.simulator.engine import INF
from agentperf_tui.core.simulator.pool_engine import PoolEngine
from agentperf_tui.core.simulator.virtual import VirtualLoad
from tests.simulator.workloads import small_rack_shape as _shape
from tests.simulator.workloads import token_trajectory


def _requests(rng: random.Random) -> list[tuple[float, int, int]]:
    t, out = 0.0, []
    for _ in range(400):
        t += rng.expovariate(40.0)
        out.append((t, rng.randrange(2000, 20000), rng.randrange(20, 400)))
    return out


def _drive(batched: bool) -> list[tuple[int, float, float]]:
    eng = PoolEngine(_shape())
    rng = random.Random(5)
    arrivals = _requests(rng)
    done: list[tuple[int, float, float]] = []
    i = 0
    while True:
        ta = arrivals[i][0] if i < len(arrivals) else INF
        te = eng.next_time()
        if ta == INF and te == INF:
            break
        if ta <= te:
            t, prompt, out = arrivals[i]
            i += 1
            ids = BlockRuns(((i * 10_000, prompt // 16),))
            eng.submit(eng.new_request(prompt, ids, t, max_tokens=out), t)
        elif batched:
            done += [(r.rid, r.t_first, r.t_last) for r in eng.run_before(ta, INF)]
        else:
            done += [(r.rid, r.t_first, r.t_last) for r in eng.run_until(te)]
    return sorted(done)


def test_batched_runs_between_arrivals_match_one_event_time_at_a_time() -> None:
    plain, batched = _drive(False), _drive(True)
    assert len(plain) == 400
    assert batched == plain  # same first and last token times, bit for bit


def test_block_runs_behave_as_the_list_of_identities_they_stand_for() -> None:
    rng = random.Random(1)
    runs, ids, nxt = BlockRuns(), [], 1
    for _ in range(200):
        keep = rng.randrange(0, len(ids) + 1) if rng.random() < 0.3 else len(ids)
        fresh = rng.randrange(0, 50)
        runs = runs.grown(keep, nxt, fresh)
        ids = ids[:keep] + list(range(nxt, nxt + fresh))
        nxt += fresh
        assert len(runs) == len(ids) and list(runs) == ids
        if ids:
            k = rng.randrange(len(ids))
            assert runs[k] == ids[k] and runs[-1] == ids[-1] and runs[0] == ids[0]
            assert runs[1:k] == ids[1:k]


def test_common_prefix_of_block_runs_is_that_of_the_identities_they_stand_for() -> None:
    """Chains grown from one another (prefix-closed): the runs' shortcut agrees with a plain
    comparison of the identities, whichever chain is longer and wherever they part."""
    rng = random.Random(2)
    chains: list[BlockRuns] = [BlockRuns()]
    nxt = 1
    for _ in range(300):
        base = rng.choice(chains)
        keep = rng.randrange(0, len(base) + 1) if rng.random() < 0.4 else len(base)
        fresh = rng.randrange(0, 40)
        chains.append(base.grown(keep, nxt, fresh))
        nxt += fresh
    for _ in range(2000):
        a, b = rng.choice(chains), rng.choice(chains)
        la, lb = list(a), list(b)
        pairs = enumerate(zip(la, lb, strict=False))
        plain = next((i for i, (x, y) in pairs if x != y), min(len(la), len(lb)))
        assert common_prefix(a, b) == plain == common_prefix(la, lb)


def test_the_virtual_load_keeps_agents_small_on_the_rack_scale_engine() -> None:
    trajs = [token_trajectory(f"t{i}", turns=6, first=30_000, new=2000, out=50, delay=0.2) for i in range(3)]
    load = VirtualLoad(_shape(), trajs, seed=2, tool_delay="recorded")
    load.set_concurrency(40)
    results = []
    for _ in range(60):
        results += load.advance(1.0)
    assert results and all(r.ok for r in results)
    # prefix reuse works through the compact identities: later turns hit the cache
    assert any(r.cached_tokens > 20_000 for r in results)
    assert all(isinstance(a.prev_hashes, BlockRuns) for a in load._agents.values())
