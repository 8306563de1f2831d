"""Load workers in processes on this machine, against the embedded simulator (a real HTTP server on
127.0.0.1): N spread exactly, live changes reaching every worker, one clock, and a worker that dies
reported, its open requests counted as failed, N kept."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.handle import EngineHandle
from agentperf_tui.core.engine.load_choice import auto_workers
from agentperf_tui.core.engine.process_workers import ProcessLink
from agentperf_tui.core.engine.protocol import SetConcurrency
from agentperf_tui.core.engine.remote_workers import RemoteWorkers, split
from agentperf_tui.core.simulator.embedded import EmbeddedSimulator
from agentperf_tui.core.store import load_run

from .recorder import Recorder

QUICK = Path(__file__).resolve().parents[2] / "trajectories" / "quick"


@pytest.fixture(scope="module")
def sim() -> EmbeddedSimulator:
    s = EmbeddedSimulator(seed=5)
    s.start()
    yield s  # type: ignore[misc]
    s.close()


def test_n_is_spread_so_the_total_is_exact() -> None:
    for n in (0, 1, 7, 1000, 4096):
        for k in (1, 2, 3, 8):
            shares = split(n, k)
            assert sum(shares) == n and max(shares) - min(shares) <= 1
    assert auto_workers(RunConfig(mode="fixed", concurrency=4096), cores=16) == 5
    assert auto_workers(RunConfig(mode="fixed", concurrency=4096), cores=2) == 1
    assert auto_workers(RunConfig(mode="fixed", concurrency=10), cores=16) == 1


def _wait(pred: object, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_two_worker_processes_one_clock_live_n_and_a_worker_that_dies(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    store = tmp_path / "runs.sqlite3"
    cfg = RunConfig(
        endpoint=sim.base_url, trajectories=str(QUICK), concurrency=4, duration_s=14.0, workers=2,
        store=str(store), telemetry="none",
    )  # fmt: skip
    seen = Recorder()
    h = EngineHandle(cfg, [seen])
    h.start()
    _wait(lambda: h.engine.load is not None and seen.snaps and seen.snaps[-1].agents == 4, 60)
    load = h.engine.load
    assert isinstance(load, RemoteWorkers) and load.kind == "process" and load.workers == 2
    # one machine, one monotonic clock: the offsets are 0, and measured round trips agree
    for o in load.offsets():
        assert o.shared and o.offset_s == 0.0 and o.uncertainty_s < 0.05
    h.submit(SetConcurrency(7))
    _wait(lambda: seen.snaps[-1].agents == 7 and seen.snaps[-1].target_n == 7, 30)
    # kill one worker (a process this test's run started) mid-run
    link = load._links[0]
    assert isinstance(link, ProcessLink)
    _wait(lambda: seen.snaps[-1].requests_in_flight > 0, 20)
    os.kill(link.proc.pid, signal.SIGKILL)
    _wait(lambda: load.incidents and seen.snaps[-1].agents == 7, 30)
    assert h.join(60) and h.error is None, h.error
    s = h.summary
    assert s is not None and s.load.kind == "process" and s.load.workers == 2
    assert any("ended" in i and "N stays 7" in i for i in s.incidents), s.incidents
    run = load_run(store, h.run_id)  # type: ignore[arg-type]
    req = run.requests
    # nothing dropped: every request is ok, failed (the dead worker's open ones: worker_lost) or open
    assert len(req) == s.requests.ok + s.requests.failed + s.requests.open_at_end
    assert s.requests.by_kind.get("worker_lost", 0) >= 1
    lost = req.select(req.failure == "worker_lost")
    assert np.all(lost.agent % 2 == 0), "only the killed worker's agents (even ids) were lost"
    # both workers' agents sent requests, on the coordinator's clock
    agents = set(req.agent.tolist())
    assert {a % 2 for a in agents} == {0, 1}
    done = req.select(req.ok)
    assert np.all(done.t_first_token >= done.t_intended) and np.all(done.t_intended > 0)
