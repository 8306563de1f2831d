"""The `agentx` preset: seeded agent trees with the published AgentX sub-agent share."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from agentperf_tui.cli import main
from agentperf_tui.core.workload.synth_tree import (
    PUBLISHED_SUBAGENT_REQUEST_SHARE,
    TREE_PRESETS,
    synth_tree,
    write_tree_set,
)
from agentperf_tui.core.workload.trajectory import TokenTurn, Trajectory, load_set
from agentperf_tui.core.workload.tree import tree_of
from agentperf_tui.core.workload.tree_stats import tree_stats

AGENTX = TREE_PRESETS["agentx"]


@pytest.fixture(scope="module")
def trees() -> list[Trajectory]:
    out = []
    for index in range(300):
        header, turns, subs = synth_tree(7, index, AGENTX)
        out.append(Trajectory(header=header, turns=tuple(turns), subagents=tuple(subs)))
    return out


def test_reproducible_by_seed_and_index() -> None:
    assert synth_tree(7, 5, AGENTX) == synth_tree(7, 5, AGENTX)
    assert synth_tree(7, 5, AGENTX) != synth_tree(8, 5, AGENTX)


def test_sub_agent_share_matches_the_published_figure(trees: list[Trajectory]) -> None:
    stats = [tree_stats(t) for t in trees]
    share = sum(s.subagent_requests for s in stats) / sum(s.requests for s in stats)
    assert abs(share - PUBLISHED_SUBAGENT_REQUEST_SHARE) < 0.04
    fanouts = [f for s in stats for f in s.fanouts]
    assert set(fanouts) == {1, 2, 3} and 1.5 < float(np.mean(fanouts)) < 1.9
    assert all(s.depth <= 1 and s.detached == 0 for s in stats)
    assert 0.3 < sum(s.subagents > 0 for s in stats) / len(stats) < 0.8


def test_sub_agents_spawn_fresh_and_their_results_join_the_parent(trees: list[Trajectory]) -> None:
    for traj in trees[:60]:
        root = tree_of(traj)
        for k, turn in enumerate(traj.turns):
            assert isinstance(turn, TokenTurn)
            returned = sum(c.spec.result_tokens or 0 for f in root.joins_before(k) for c in f.children
                           if c.spec is not None)
            if returned:  # the join turn's new input holds what they returned, on top of its own growth
                assert turn.new_input_tokens >= returned + AGENTX.main.growth_bounds[0]
        for sub in traj.subagents:
            assert sub.spec.context == "none" and sub.spec.joins_before == sub.spec.at_turn + 1
            turns = [t for t in sub.turns if isinstance(t, TokenTurn)]
            assert turns[0].cached_prefix_tokens == 0
            for prev, cur in itertools.pairwise(turns):
                assert cur.cached_prefix_tokens == prev.prompt_tokens + prev.output_tokens
            assert all(t.prompt_tokens + t.output_tokens <= AGENTX.sub.max_context for t in turns)


def test_written_sets_load_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = write_tree_set(tmp_path / "w", seed=3, count=5, preset="agentx")
    loaded = load_set(tmp_path / "w", trees=True)
    assert report.trajectories == 5
    assert [t.id for t in loaded] == [f"synth-agentx-s3-{i:04d}" for i in range(5)]
    assert loaded[0].header.source["preset"] == "agentx"
    out = tmp_path / "cli"
    args = ["trajectories", "synth", "--preset", "agentx", "--count", "6", "--seed", "4", "-o", str(out)]
    assert main(args) == 0
    assert "generated 6 trajectories" in capsys.readouterr().out
    assert main(["trajectories", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "sub-agent share:" in shown and "implied by the token counts" in shown
