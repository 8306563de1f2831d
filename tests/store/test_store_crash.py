"""A writer killed with SIGKILL leaves a readable partial run holding what it was handed until
about a second before the kill; readers call it incomplete."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from agentperf_tui.core.store import INCOMPLETE, RunStore, export_csv, export_json, list_runs, load_run
from agentperf_tui.core.summary.model import RunSummary

CHILD = Path(__file__).with_name("crash_writer.py")
KILL_AFTER_S = 2.5
DURABILITY_S = 1.5
"""Requests handed over more than this long before the kill must be on disk (target: ~0.2 s)."""


def test_sigkilled_writer_leaves_readable_partial_run(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite3"
    proc = subprocess.run(
        [sys.executable, str(CHILD), str(db), str(KILL_AFTER_S)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    lines = proc.stdout.split()
    run_id, kill_marker, handed, killed_at = lines[0], lines[1], int(lines[2]), float(lines[3])
    assert kill_marker == "KILL" and handed > 100

    [info] = list_runs(db)
    assert info.id == run_id and info.stored_status == "running" and info.status == INCOMPLETE

    run = load_run(db, run_id)
    req = run.requests
    assert run.info.status == INCOMPLETE and not run.summary.final and run.summary.status == "incomplete"
    # Committed in order: the stored requests are exactly the first ones handed over.
    assert list(req.turn) == list(range(len(req)))
    assert 0 < len(req) <= handed
    assert req.t_end.max() >= killed_at - DURABILITY_S, (
        f"last request on disk was handed over {killed_at - req.t_end.max():.2f} s before the kill"
    )
    assert set(np.unique(req.level)) == {0.0, 1.0}
    gap = killed_at - req.t_end.max()
    print(f"kill at {killed_at:.3f} s; newest request on disk handed over {gap:.3f} s before")

    # The partial run exports like any other.
    doc = export_json(db, run_id, tmp_path / "partial.json")
    assert doc.stat().st_size > 0
    csv_files = {p.name: p for p in export_csv(db, run_id, tmp_path / "csv")}
    assert len(csv_files["requests.csv"].read_text().splitlines()) == len(req) + 1

    # The store stays writable: a new writer opens it and adds a run next to the partial one.
    with RunStore(db) as store:
        store.create_run(config={}, endpoint="e", model="m", simulated=True, started_wall=time.time())
    assert len(list_runs(db)) == 2


def _sql(db: Path, statement: str) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(statement)


@pytest.mark.parametrize("host_differs", [False, True])
def test_live_writer_shows_running(tmp_path: Path, host_differs: bool) -> None:
    db = tmp_path / "runs.sqlite3"
    with RunStore(db) as store:
        run_id = store.create_run(
            config={}, endpoint="e", model="m", simulated=True, started_wall=time.time()
        )
        store.flush()
        assert list_runs(db)[0].status == "running"  # this very process is writing it
        if host_differs:
            _sql(db, "UPDATE runs SET writer_host = 'elsewhere'")
            # Another host: judged by the heartbeat, fresh here.
            assert list_runs(db)[0].status == "running"
            _sql(db, "UPDATE runs SET heartbeat_wall = heartbeat_wall - 3600")
            assert list_runs(db)[0].status == INCOMPLETE
        else:
            # Same PID but another process identity (PID recycled after the writer died).
            _sql(db, "UPDATE runs SET writer_token = 'other-boot:1'")
            assert list_runs(db)[0].status == INCOMPLETE
        store.finish_run(run_id, status="finished", summary=RunSummary())
    assert list_runs(db)[0].status == "finished"


def test_store_closed_without_finish_record_is_incomplete_at_once(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite3"
    with RunStore(db) as store:
        unfinished = store.create_run(
            config={}, endpoint="e", model="m", simulated=True, started_wall=time.time()
        )
        finished = store.create_run(
            config={}, endpoint="e", model="m", simulated=True, started_wall=time.time()
        )
        crashed = RunSummary(status="crashed", status_reason="boom")
        store.finish_run(finished, status="crashed", summary=crashed)
    status = {r.id: r.status for r in list_runs(db)}  # this process is still alive
    assert status == {unfinished: INCOMPLETE, finished: "crashed"}


def test_idle_run_keeps_its_heartbeat_fresh(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite3"

    def heartbeat() -> float:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            return float(conn.execute("SELECT heartbeat_wall FROM runs").fetchone()[0])

    with RunStore(db, heartbeat_s=0.1) as store:
        store.create_run(config={}, endpoint="e", model="m", simulated=True, started_wall=time.time())
        first = heartbeat()
        deadline = time.monotonic() + 5.0
        while heartbeat() == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert heartbeat() > first  # refreshed with nothing else written
