"""Synthetic trajectories: the published AgentPerf workload shape, reproducible by seed."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from agentperf_tui.core.workload.synth import (
    PRESETS,
    synth_set,
    synth_trajectory,
    tool_delay_baseline,
    tool_delays_baseline,
    write_synth_set,
)
from agentperf_tui.core.workload.trajectory import TokenTurn, load_set


@pytest.fixture(scope="module")
def default_sample() -> list[list[TokenTurn]]:
    return [turns for _, turns in synth_set(0, 600, PRESETS["default"])]


def test_input_lengths_per_request(default_sample: list[list[TokenTurn]]) -> None:
    isl = np.array([t.prompt_tokens for turns in default_sample for t in turns])
    assert len(isl) > 8000
    # AA-AgentPerf dataset: ~5K to ~131K tokens per request, mean ~27K
    assert isl.min() >= 5000 and isl.max() <= 131072
    assert 27000 * 0.88 < isl.mean() < 27000 * 1.12
    assert isl.max() > 100_000  # long contexts do occur


def test_output_lengths_per_request(default_sample: list[list[TokenTurn]]) -> None:
    osl = np.array([t.output_tokens for turns in default_sample for t in turns])
    # median ~150, P95 ~2K (DeepSeek V3.2)
    assert 135 <= np.median(osl) <= 165
    assert 1700 <= np.percentile(osl, 95) <= 2300
    assert osl.min() >= 1


def test_turns_and_context_growth(default_sample: list[list[TokenTurn]]) -> None:
    lengths = np.array([len(turns) for turns in default_sample])
    assert lengths.max() <= 200 and lengths.min() >= 1
    assert lengths.max() >= 100  # long sessions exist
    for turns in default_sample:
        assert turns[0].cached_prefix_tokens == 0
        for prev, cur in itertools.pairwise(turns):
            # the whole previous context is the prefix of the next prompt
            assert cur.cached_prefix_tokens == prev.prompt_tokens + prev.output_tokens
            assert cur.new_input_tokens >= 16 and not cur.compacted
        assert turns[-1].tool_delay_s == 0.0
        assert all(t.think_time_s == 0.0 for t in turns)


def test_tool_delays_follow_the_baseline(default_sample: list[list[TokenTurn]]) -> None:
    delays = np.array([t.tool_delay_s for turns in default_sample for t in turns[:-1]])
    assert delays.min() >= 0.1 and delays.max() <= 5.0
    assert 0.95 <= np.median(delays) <= 1.05


def test_tool_delay_baseline_distribution() -> None:
    x = tool_delays_baseline(np.random.default_rng(3), 200_000)
    assert x.min() >= 0.1 and x.max() <= 5.0
    assert np.median(x) == pytest.approx(1.0, abs=0.01)
    assert 0.2 < np.percentile(x, 5) < 0.35 and 3.0 < np.percentile(x, 95) < 3.6
    one = tool_delay_baseline(np.random.default_rng(4))
    assert isinstance(one, float) and 0.1 <= one <= 5.0
    assert tool_delay_baseline(np.random.default_rng(4)) == one


def test_quick_preset_is_small() -> None:
    sample = [turns for _, turns in synth_set(0, 300, PRESETS["quick"])]
    isl = np.array([t.prompt_tokens for turns in sample for t in turns])
    osl = np.array([t.output_tokens for turns in sample for t in turns])
    assert isl.min() >= 1000 and isl.max() <= 4096
    assert osl.min() >= 32 and osl.max() <= 128
    assert all(3 <= len(turns) <= 8 for turns in sample)
    delays = np.array([t.tool_delay_s for turns in sample for t in turns[:-1]])
    assert delays.max() <= 1.25 and 0.2 < np.median(delays) < 0.3


def test_same_seed_same_trajectories_and_index_independence() -> None:
    a = list(synth_set(42, 5, PRESETS["default"]))
    b = list(synth_set(42, 20, PRESETS["default"]))[:5]
    assert a == b
    c = list(synth_set(43, 5, PRESETS["default"]))
    assert [t for _, t in a] != [t for _, t in c]
    assert synth_trajectory(42, 3, PRESETS["default"]) == a[3]


def test_written_set_loads_and_matches(tmp_path: Path) -> None:
    report = write_synth_set(tmp_path, seed=9, count=6, preset="quick")
    assert report.trajectories == 6
    loaded = load_set(tmp_path)
    expected = list(synth_set(9, 6, PRESETS["quick"]))
    assert [t.id for t in loaded] == [h.id for h, _ in expected]
    for traj, (header, turns) in zip(loaded, expected, strict=True):
        assert list(traj.turns) == turns
        assert traj.header.source["seed"] == 9 and traj.header.source["preset"] == "quick"
        assert traj.header.required_context_tokens == max(t.prompt_tokens + t.output_tokens for t in turns)
        assert header.kind == traj.kind == "tokens"


def test_committed_sets_are_what_the_readme_says() -> None:
    root = Path(__file__).resolve().parents[2] / "trajectories"
    for preset, seed, count in (("default", 9, 24), ("quick", 1, 16)):
        loaded = load_set(root / preset)
        expected = list(synth_set(seed, count, PRESETS[preset]))
        assert [t.id for t in loaded] == [h.id for h, _ in expected]
        assert [list(t.turns) for t in loaded] == [turns for _, turns in expected]
