"""The engine end to end against real HTTP servers on 127.0.0.1 (the embedded simulator)."""

from __future__ import annotations

import math
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.handle import EngineHandle
from agentperf_tui.core.engine.protocol import (
    SetConcurrency,
)
from agentperf_tui.core.simulator.embedded import EmbeddedSimulator
from agentperf_tui.core.store import load_run

from .recorder import Recorder

REPO = Path(__file__).resolve().parents[2]
QUICK = REPO / "trajectories" / "quick"


def _run(cfg: RunConfig, timeout: float = 90.0) -> tuple[EngineHandle, Recorder]:
    rec = Recorder()
    h = EngineHandle(cfg, [rec])
    h.start()
    assert h.join(timeout), "the run did not end in time"
    if h.error is not None:
        raise h.error
    return h, rec


@pytest.fixture()
def sim() -> Any:
    s = EmbeddedSimulator(seed=1)
    s.start()
    yield s
    s.close()


def test_fixed_run_on_a_real_http_server_reports_per_request_figures(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    store = tmp_path / "runs.sqlite3"
    cfg = RunConfig(
        endpoint=sim.base_url,
        trajectories=str(QUICK),
        concurrency=6,
        duration_s=8.0,
        store=str(store),
        telemetry="none",
        tier="5/10",
    )
    h, rec = _run(cfg)
    s = rec.summary
    assert s is not None and s.status == "finished"
    assert s.requests.ok > 10 and s.requests.failed == 0
    ttft = s.whole_run.ttft_s
    assert 0 < ttft.p50 <= ttft.p95 <= ttft.p99 < 10
    assert s.whole_run.output_speed_tok_s.p25 > 0
    assert s.length_mismatches == 0, "the simulator honours exact output length"
    assert s.comparable is True
    # snapshots came a few times a second and saw all N agents
    assert len(rec.snaps) >= 8
    assert max(sn.agents for sn in rec.snaps) == 6
    # agents are seen in every state: waiting for a first token, streaming, in a tool call
    assert max(sn.requests_streaming for sn in rec.snaps) > 0
    assert max(sn.agents_in_tool for sn in rec.snaps) > 0
    # linear trajectories: an agent has at most one request in flight
    assert all(
        sn.requests_waiting + sn.requests_streaming + sn.agents_in_tool <= sn.agents for sn in rec.snaps
    )
    # every request is in the store: finished ones with their timings, those still open when the
    # run stopped as such (nothing is dropped)
    assert h.run_id is not None
    stored = load_run(store, h.run_id)
    req = stored.requests
    assert len(req) == s.requests.ok + s.requests.failed + s.requests.open_at_end
    assert s.requests.open_at_end == int((req.failure == "open_at_end").sum()) <= 6
    done = req.select(req.ok)
    assert np.all(done.t_first_token >= done.t_intended)
    assert np.all(done.output_tokens == done.requested_output_tokens)
    assert stored.summary.status == "finished"


def test_concurrency_changes_live_without_restarting_the_fleet(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    rec = Recorder()
    cfg = RunConfig(
        endpoint=sim.base_url,
        trajectories=str(QUICK),
        concurrency=2,
        duration_s=9.0,
        store=str(tmp_path / "r.sqlite3"),
        telemetry="none",
    )
    h = EngineHandle(cfg, [rec])
    h.start()
    deadline = time.monotonic() + 30
    while (h.latest() is None or h.latest().agents < 2) and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.1)
    h.submit(SetConcurrency(8))
    time.sleep(3.0)
    mid = h.latest()
    h.submit(SetConcurrency(3))
    assert h.join(60)
    assert h.error is None
    assert mid is not None and mid.target_n == 8 and mid.agents == 8
    final = rec.snaps[-1]
    assert final.target_n == 3
    # agents that were never retired kept their replays going: no request failed on the way
    assert rec.summary is not None and rec.summary.requests.failed == 0


def test_n_set_by_hand_before_the_run_has_started_takes_effect(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    # A command given while the endpoint is still being checked waits, and is carried out once
    # the run starts: the hand-set N replaces the planned one.
    rec = Recorder()
    cfg = RunConfig(
        endpoint=sim.base_url,
        trajectories=str(QUICK),
        concurrency=2,
        duration_s=6.0,
        store=str(tmp_path / "r.sqlite3"),
        telemetry="none",
    )
    h = EngineHandle(cfg, [rec])
    h.start()
    h.submit(SetConcurrency(4))
    assert h.join(60)
    assert h.error is None
    assert rec.summary is not None and rec.summary.status == "finished"
    assert rec.snaps[-1].target_n == 4 and max(sn.agents for sn in rec.snaps) == 4
    messages = [e.message for e in rec.events]
    assert any("N set by hand to 4" in m for m in messages)
    assert not any(e.kind == "error" for e in rec.events)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_missing_trajectory_set_is_reported_before_the_endpoint_is_tried(tmp_path: Path) -> None:
    cfg = RunConfig(
        endpoint=f"http://127.0.0.1:{_free_port()}",  # nothing listens: it must not get that far
        trajectories=str(tmp_path / "no-such-set"),
        duration_s=2.0,
        store=str(tmp_path / "r.sqlite3"),
        telemetry="none",
    )
    h = EngineHandle(cfg, [Recorder()])
    h.start()
    assert h.join(30)
    assert h.error is not None
    assert "no-such-set" in str(h.error) and "no such file" in str(h.error)


def test_unreachable_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    cfg = RunConfig(
        endpoint=f"http://127.0.0.1:{_free_port()}",
        trajectories=str(QUICK),
        duration_s=2.0,
        store=str(tmp_path / "r.sqlite3"),
        telemetry="none",
    )
    rec = Recorder()
    h = EngineHandle(cfg, [rec])
    h.start()
    assert h.join(30)
    assert h.error is not None
    assert "127.0.0.1" in str(h.error)


def test_model_not_served_names_what_is(sim: EmbeddedSimulator, tmp_path: Path) -> None:
    cfg = RunConfig(
        endpoint=sim.base_url,
        model="no-such-model",
        trajectories=str(QUICK),
        duration_s=2.0,
        store=str(tmp_path / "r.sqlite3"),
        telemetry="none",
    )
    h = EngineHandle(cfg, [])
    h.start()
    assert h.join(30)
    assert h.error is not None
    assert "no-such-model" in str(h.error) and sim.model_name in str(h.error)


def test_embedded_simulator_is_the_default_and_says_so(tmp_path: Path) -> None:
    cfg = RunConfig(trajectories=str(QUICK), concurrency=3, duration_s=4.0, store=str(tmp_path / "r.sqlite3"))
    _, rec = _run(cfg)
    assert rec.summary is not None and rec.summary.simulated is True
    assert all(s.simulated_endpoint for s in rec.snaps)
    assert any("SIMULATED" in e.message for e in rec.events)
    powered = [s.power for s in rec.snaps if s.power is not None and s.power.total_w]
    assert powered and all(p.simulated for p in powered)
    assert not math.isnan(rec.snaps[-1].ttft.p50)


def test_no_cache_entry_survives_from_an_earlier_run_with_the_same_seed(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    store = tmp_path / "r.sqlite3"
    cfg = RunConfig(
        endpoint=sim.base_url,
        trajectories=str(QUICK),
        concurrency=2,
        duration_s=4.0,
        store=str(store),
        telemetry="none",
        seed=5,
    )
    first, _ = _run(cfg)
    second, _ = _run(cfg)
    for h in (first, second):
        assert h.run_id is not None
        req = load_run(store, h.run_id).requests
        opening = (req.turn == 0) & req.ok
        assert opening.any()
        # a replay's first turn finds nothing cached beyond what any prompt shares (the chat template)
        assert np.all(req.cached_tokens[opening] < 0.2 * req.prompt_tokens[opening])
        later = (req.turn > 0) & req.ok
        if later.any():  # while inside a replay the growing prefix is reused
            assert np.median(req.cached_tokens[later] / req.prompt_tokens[later]) > 0.5


def test_the_summary_says_what_each_window_and_the_whole_run_moved(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    store = tmp_path / "r.sqlite3"
    cfg = RunConfig(
        endpoint=sim.base_url,
        trajectories=str(QUICK),
        concurrency=4,
        duration_s=7.0,
        warmup_s=0.5,
        store=str(store),
        telemetry="none",
        tier="5/10",
    )
    h, rec = _run(cfg)
    s = rec.summary
    assert s is not None and h.run_id is not None
    (level,) = s.levels
    assert level.measure_from is not None and level.window_end is not None
    stored = load_run(store, h.run_id)
    req = stored.requests
    # the level's figures are those of the requests sent in its measured window, per second of it
    sent = np.where(np.isnan(req.t_sent), req.t_intended, req.t_sent)
    in_window = (sent >= level.measure_from) & (sent < level.window_end) & req.ok
    span = level.window_s
    assert level.output_tok_s == pytest.approx(req.output_tokens[in_window].sum() / span, rel=1e-6)
    assert level.input_tok_s == pytest.approx(req.prompt_tokens[in_window].sum() / span, rel=1e-6)
    assert level.requests_per_s == pytest.approx(in_window.sum() / span, rel=1e-6)
    hits = req.cached_tokens[in_window].sum() / req.prompt_tokens[in_window].sum()
    assert level.cache_hit_ratio == pytest.approx(hits, rel=1e-6) and 0 < hits < 1
    # the simulator reports its own prefix hit rate on /metrics
    assert level.server_prefix_hit_ratio is not None and 0 <= level.server_prefix_hit_ratio <= 1
    # the whole run: every finished request over the run's duration
    whole = s.whole_run
    done = req.ok
    assert whole.output_tok_s == pytest.approx(req.output_tokens[done].sum() / s.duration_s, rel=1e-3)
    assert whole.requests_per_s == pytest.approx(done.sum() / s.duration_s, rel=1e-3)
    assert whole.cache_hit_ratio is not None and 0 < whole.cache_hit_ratio < 1
    # the stored level carries the same figures
    assert stored.levels[0].output_tok_s == level.output_tok_s


def test_a_server_without_a_gpu_count_is_warned_about_at_the_start(tmp_path: Path) -> None:
    from agentperf_tui.core.engine.run_context import NO_GPU_COUNT, RunContext

    events: list[tuple[str, str]] = []
    cfg = RunConfig(endpoint="http://127.0.0.1:9", store=str(tmp_path / "r.sqlite3"), telemetry="none")
    ctx = RunContext(cfg, time.perf_counter, lambda kind, text: events.append((kind, text)))
    ctx.close()
    assert ("warn", NO_GPU_COUNT) in events and "--gpus" in NO_GPU_COUNT
    events.clear()
    with_gpus = cfg.model_copy(update={"gpu_count": 8})
    ctx = RunContext(with_gpus, time.perf_counter, lambda kind, text: events.append((kind, text)))
    ctx.close()
    assert not [e for e in events if e[0] == "warn"]
