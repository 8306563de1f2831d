"""Trajectory trees replayed by the engine against the embedded simulator (a real HTTP server on
127.0.0.1): one agent slot per tree, sub-agents in parallel, the recorded fork/join order and
offsets, the prefix-cache hits the tree implies, and an exact request count per tree."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.handle import EngineHandle
from agentperf_tui.core.simulator.embedded import EmbeddedSimulator
from agentperf_tui.core.store import load_run
from agentperf_tui.core.workload.trajectory import (
    Subagent,
    SubagentSpec,
    TokenTurn,
    TrajectoryHeader,
    load_set,
    write_trajectory,
)
from agentperf_tui.core.workload.tree_plan import plan_tree

from .recorder import Recorder

OFFSET_S = 0.2
DELAY_S = 0.1


def _turn(i: int, new: int, prev: int = 0, out: int = 6) -> TokenTurn:
    return TokenTurn(
        i=i, new_input_tokens=new, cached_prefix_tokens=prev, output_tokens=out, tool_delay_s=DELAY_S
    )


def write_tree(folder: Path) -> Path:
    """Root: 3 turns. Turn 0's reply forks two helpers that start from its context and are joined
    before turn 1; turn 1's reply forks one detached helper with a fresh context."""
    header = TrajectoryHeader(format="agentperf-traj/1", id="tree-a", kind="tokens")
    root = [_turn(0, 700), _turn(1, 120, 706), _turn(2, 80, 832)]
    helpers = [
        Subagent(
            spec=SubagentSpec(
                node=name, at_turn=0, context="parent", start_offset_s=OFFSET_S, result_tokens=60
            ),
            turns=(_turn(0, 150, 700), _turn(1, 40, 856)),
        )
        for name in ("explore", "tests")
    ]
    lint = Subagent(
        spec=SubagentSpec(node="lint", at_turn=1, join="detach", context="none"), turns=(_turn(0, 300),)
    )
    path = folder / "tree-a.jsonl"
    write_trajectory(path, header, root, [*helpers, lint])
    return path


@pytest.fixture(scope="module")
def sim() -> EmbeddedSimulator:
    s = EmbeddedSimulator(seed=3)
    s.start()
    yield s  # type: ignore[misc]
    s.close()


def test_a_tree_is_one_agent_with_its_sub_agents_in_flight_together(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    traj_path = write_tree(tmp_path)
    (traj,) = load_set(traj_path, trees=True)
    plan = plan_tree(traj)
    per_tree = sum(1 for _ in plan)
    assert per_tree == 8
    store = tmp_path / "runs.sqlite3"
    cfg = RunConfig(
        endpoint=sim.base_url, trajectories=str(traj_path), concurrency=2, duration_s=10.0,
        store=str(store), telemetry="none", tier="5/10",
    )  # fmt: skip
    seen = Recorder()
    h = EngineHandle(cfg, [seen])
    h.start()
    assert h.join(60)
    assert h.error is None, h.error
    assert h.summary is not None and h.summary.requests.failed == 0
    req = load_run(store, h.run_id).requests  # type: ignore[arg-type]
    ok = req.select(req.ok)
    assert set(ok.agent) == {0, 1}, "two slots, each a whole tree"
    assert np.all(ok.t_sent >= ok.t_intended), "a request was sent before its intended time"
    rows: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i in range(len(ok)):
        rows[(int(ok.agent[i]), int(ok.replay[i]))].append(i)
    complete = [k for k in rows if k[1] < max(r for a, r in rows if a == k[0])]
    assert complete, "at least one tree replayed to its end"
    for key in complete:
        idx = rows[key]
        assert len(idx) == per_tree, (key, len(idx))
        at = {(str(ok.node[i]), int(ok.turn[i])): i for i in idx}
        # the helpers start OFFSET_S after the reply that spawned them ended, together
        fork_end = ok.t_end[at[("root", 0)]]
        for name in ("explore", "tests"):
            assert ok.t_intended[at[(name, 0)]] == pytest.approx(fork_end + OFFSET_S, abs=0.05)
        # the parent's next turn waits for both helpers, then its tool delay
        joined = max(ok.t_end[at[(name, 1)]] for name in ("explore", "tests"))
        assert ok.t_intended[at[("root", 1)]] == pytest.approx(joined + DELAY_S, abs=0.05)
        # the detached helper does not hold the parent back
        assert ok.t_intended[at[("lint", 0)]] == pytest.approx(ok.t_end[at[("root", 1)]], abs=0.05)
        assert ok.t_intended[at[("root", 2)]] < ok.t_end[at[("lint", 0)]] + 1.0
        # prefix reuse inside the tree: each request is served from cache as its block hashes imply
        for planned in plan:
            i = at[(planned.node, planned.turn)]
            cached = ok.cached_tokens[i]
            assert cached <= ok.prompt_tokens[i]
            if planned.reuse_tokens:
                assert cached >= 0.9 * planned.reuse_tokens - 64, (planned, cached)
            else:
                assert cached < 64, (planned, cached)
    # no cache entry survives from one tree replay to another: every tree's first prompt is fresh
    firsts = [i for key in rows for i in rows[key] if str(ok.node[i]) == "root" and ok.turn[i] == 0]
    assert np.all(ok.cached_tokens[firsts] < 64)
    # the dashboard sees agents (trees) and requests apart: more requests in flight than agents
    assert max(s.agents for s in seen.snaps) == 2
    assert max(s.requests_in_flight for s in seen.snaps) > 2
