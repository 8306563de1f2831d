"""The tool against a server whose connections fail: reset mid-stream, a port that stops
listening, and a server process restarted on the same port in the middle of a run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .conftest import SpawnFaultServer, StartFaultServer
from .fault_ledger import FaultStats
from .fault_modes import Fault
from .tool_runs import ToolProcess, assert_struck, audit, passed_levels, quick_run, run_tool

pytestmark = pytest.mark.slow


def test_a_reset_mid_stream_is_a_failure_of_kind_reset(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    server = start_fault_server(Fault(mode="reset", at_token=2, spare_preflight=True), tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    run = run_tool("search", "--headless", "--sweep", "4", *quick_run(server.url, store, trajectory_set),
                   timeout=60)
    assert run.code == 3, run.explain()
    summary = run.summary
    assert passed_levels(summary) == [] and summary["results"][0]["n_star"] == 0
    stats = server.wait_settled()
    stored, shown = audit(run, stats, store)
    # the connection broke after tokens had come: "reset", not "connect" (no connection at all)
    assert stored.failures["reset"] == stored.failed
    assert_struck(stored, "reset", stats.excluding_preflight().failed["reset"])
    assert "mid-stream" in run.stderr
    assert "reset" in shown


def test_a_port_that_stops_listening_fails_the_level_and_ends_the_run(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    """After 40 honest requests the API port closes for good: open streams are dropped and every
    later request fails to connect; the run still ends on its own, its level failed."""
    server = start_fault_server(Fault(mode="refuse", after=40, spare_preflight=True), tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    run = run_tool("search", "--headless", "--sweep", "4", *quick_run(server.url, store, trajectory_set),
                   timeout=60)
    assert run.code == 3, run.explain()
    assert run.seconds < 30
    summary = run.summary
    assert passed_levels(summary) == [] and summary["results"][0]["n_star"] == 0
    assert not server.listening
    stats = server.wait_settled()
    stored, shown = audit(run, stats, store, unreached=True)
    own = stats.excluding_preflight()
    # the 40 honest ones, less those of the three other agents still streaming (or not yet read)
    # when the port closed and dropped their connections
    assert 40 - 3 <= stored.ok <= own.completed <= 40
    assert stored.failures["connect"] > 0
    assert "connect error" in run.stderr
    assert "connect" in shown


def test_a_server_restarted_on_the_same_port_is_served_again_and_its_outage_counted(
    spawn_fault_server: SpawnFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    """The server process is stopped (SIGTERM) mid-run and a new one started on the same port a
    moment later. The run goes on against the new one; what failed in between is stored, and the
    two servers' books together balance with the store."""
    first = spawn_fault_server("--tokens-per-s", "1000")
    port = str(first.port)
    store = tmp_path / "runs.sqlite3"
    # the run lasts long enough for the second server to start and serve on a loaded machine
    tool = ToolProcess("run", "--headless", "-n", "4", "--duration", "10",
                       *quick_run(first.url, store, trajectory_set))
    second = None
    try:
        tool.wait_for("level 1: N=4", timeout=20)
        time.sleep(0.8)
        before = first.stop()
        assert before is not None
        time.sleep(0.8)
        second = spawn_fault_server("--tokens-per-s", "1000", "--port", port)
        run = tool.wait(timeout=30)
    finally:
        tool.kill()
    assert second.url == first.url
    after = second.control.wait_settled()
    assert run.code == 3, run.explain()
    summary = run.summary
    assert summary["status"] == "finished"
    assert passed_levels(summary) == []
    both = FaultStats.of(before.requests + after.requests)
    stored, shown = audit(run, both, store, unreached=True)
    assert before.excluding_preflight().completed > 0 and after.excluding_preflight().completed > 0
    assert stored.failures["connect"] > 0
    assert "connect" in shown
