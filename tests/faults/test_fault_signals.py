"""Signals to a headless run, and a console killed while its engine runs: what was measured is
kept, the store stays sound, and the exit status says the run was aborted."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from agentperf_tui.core.store import INCOMPLETE

from .conftest import StartFaultServer
from .fault_server import FaultServer
from .tool_runs import ConsoleProcess, ToolProcess, audit, integrity, quick_run, runs_show, stored_run

pytestmark = pytest.mark.slow


def _start(server: FaultServer, store: Path, trajectories: Path) -> ToolProcess:
    """A headless fixed run of a minute at N=4, once the server has completed some of its requests
    (a loaded machine may take longer than the usual fraction of a second)."""
    flags = quick_run(server.url, store, trajectories)
    tool = ToolProcess("run", "--headless", "-n", "4", "--duration", "60", *flags)
    tool.wait_for("level 1: N=4", timeout=20)
    time.sleep(0.7)
    deadline = time.monotonic() + 20
    while server.stats().excluding_preflight().completed < 4:
        if time.monotonic() > deadline:
            tool.kill()
            raise AssertionError("the run completed fewer than 4 requests in 20 s")
        time.sleep(0.1)
    return tool


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_aborts_the_run_keeping_what_it_measured(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    server = start_fault_server(tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    tool = _start(server, store, trajectory_set)
    try:
        signalled = time.monotonic()
        tool.signal(sig)
        run = tool.wait(timeout=20)
    finally:
        tool.kill()
    assert run.code == 4, run.explain()
    assert time.monotonic() - signalled < 10
    assert f"{sig.name}: stopping agents, saving what was measured" in run.stderr
    summary = run.summary
    assert summary["status"] == "aborted" and summary["status_reason"] == f"{sig.name} received"
    stats = server.wait_settled()
    stored, shown = audit(run, stats, store)
    assert stored.status == "aborted" and stored.ok > 0 and stored.failed == 0
    assert stored.summary is not None and stored.summary["status_reason"] == f"{sig.name} received"
    assert "status      aborted" in shown


def test_a_second_signal_exits_at_once_leaving_a_sound_store(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    server = start_fault_server(tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    tool = _start(server, store, trajectory_set)
    try:
        tool.signal(signal.SIGTERM)
        tool.signal(signal.SIGINT)
        signalled = time.monotonic()
        run = tool.wait(timeout=20)
    finally:
        tool.kill()
    assert run.code == 4, run.explain()
    assert time.monotonic() - signalled < 5
    # sent back to back, either may be handled first
    first = next(s for s in ("SIGTERM", "SIGINT") if f"{s}: stopping agents" in run.stderr)
    second = "SIGINT" if first == "SIGTERM" else "SIGTERM"
    assert f"{second} again: exiting now; the store keeps what was written" in run.stderr
    assert integrity(store) == "ok"
    stored = stored_run(store)
    assert stored.status == "aborted"
    assert stored.summary is not None
    assert stored.summary["status_reason"] == f"{first} received, then {second}"
    own = server.wait_settled().excluding_preflight()
    # an exit without the hand-over: the requests of its last moments may be missing, never invented
    assert 0 < stored.ok <= own.completed and stored.rows <= own.seen
    shown = runs_show(store, stored.run_id)
    assert shown.code == 0 and "status      aborted" in shown.stdout


def test_a_killed_run_leaves_a_readable_incomplete_run_with_its_finished_requests(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    server = start_fault_server(tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    tool = _start(server, store, trajectory_set)
    try:
        time.sleep(1.3)
        killed_wall = time.time()
        tool.signal(signal.SIGKILL)
        run = tool.wait(timeout=10)
    finally:
        tool.kill()
    assert run.code == -signal.SIGKILL
    assert integrity(store) == "ok"
    stored = stored_run(store)
    assert stored.status == "running" and stored.summary is None  # as written: no finish record
    own = server.wait_settled().excluding_preflight()
    # every reply the server finished more than 1.5 s before the kill is on disk
    finished_early = sum(1 for r in own.requests
                         if r.outcome == "completed" and r.t_end is not None and r.t_end < killed_wall - 1.5)
    assert finished_early > 0 and finished_early <= stored.ok <= own.completed
    assert stored.rows <= own.seen
    shown = runs_show(store, stored.run_id)
    assert shown.code == 0, shown.explain()
    assert f"status      {INCOMPLETE}" in shown.stdout
    assert f"{stored.ok:,} ok" in shown.stdout


def _children(pid: int) -> list[int]:
    """PIDs of the processes whose parent is `pid`."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rfind(")") + 2 :].split()[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _gone(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return text[text.rfind(")") + 2 :][:1] in ("Z", "X")


def test_a_killed_console_leaves_its_engine_to_abort_and_store_the_run(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    """The console (the Textual app, on a terminal of its own) is SIGKILLed while its engine
    process runs a level: the engine sees its command pipe close, stops its agents, stores the
    summary and ends; every request the server saw is in the store."""
    server = start_fault_server(tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    flags = quick_run(server.url, store, trajectory_set)
    console = ConsoleProcess("run", "-n", "4", "--duration", "60", *flags)  # no --headless: the console
    engine = 0
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.stats().excluding_preflight().completed < 20:
            assert console.proc.poll() is None, f"the console ended: {console.screen()[-2000:]}"
            time.sleep(0.1)
        [engine] = _children(console.proc.pid)
        console.proc.kill()
        console.proc.wait(timeout=10)
        deadline = time.monotonic() + 30
        while not _gone(engine) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(engine), "the engine went on with nobody watching"
    finally:
        console.close()
        if engine and not _gone(engine):
            os.kill(engine, signal.SIGKILL)  # started (through the console) by this test
    assert integrity(store) == "ok"
    stored = stored_run(store)
    assert stored.status == "aborted" and stored.summary is not None
    assert stored.summary["status_reason"] == "the console went away"
    own = server.wait_settled().excluding_preflight()
    assert own.seen == stored.rows and own.completed == stored.ok > 0
    shown = runs_show(store, stored.run_id)
    assert shown.code == 0 and "status      aborted" in shown.stdout
