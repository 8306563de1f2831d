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
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.views import Event, Snapshot

REPO = Path(__file__).resolve().parents[2]
QUICK = REPO / "trajectories" / "quick"


class Recorder:
    def __init__(self) -> None:
        self.snaps: list[Snapshot] = []
        self.events: list[Event] = []
        self.summary: RunSummary | None = None

    def on_snapshot(self, s: Snapshot) -> None:
        self.snaps.append(s)

    def on_event(self, e: Event) -> None:
        self.events.append(e)

    def on_finish(self, summary: RunSummary) -> None:
        self.summary = summary


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
    assert max(sn.agents_streaming for sn in rec.snaps) > 0
    assert max(sn.agents_in_tool for sn in rec.snaps) > 0
    assert all(sn.agents_waiting + sn.agents_streaming + sn.agents_in_tool <= sn.agents for sn in rec.snaps)
    # every finished request is in the store with its timings
    assert h.run_id is not None
    stored = load_run(store, h.run_id)
    req = stored.requests
    assert len(req) == s.requests.ok + s.requests.failed
    assert np.all(req.t_first_token >= req.t_intended)
    assert np.all(req.output_tokens == req.requested_output_tokens)
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
