"""WAL: readers run while the writer writes, see each committed batch, and never block it."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

from store_factories import make_result, new_run

from agentperf_tui.core.store import RunStore, list_runs, load_run


def test_reader_follows_a_live_writer(store: RunStore, db: Path) -> None:
    run_id = new_run(store)
    stop = threading.Event()
    handed = [0]

    def produce() -> None:
        while not stop.is_set():
            store.add_requests(run_id, [make_result(handed[0], turn=handed[0])], level=0)
            handed[0] += 1
            time.sleep(0.002)

    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as holder:
        # A reader that keeps a read transaction open must not stop the writer committing.
        holder.execute("BEGIN")
        assert holder.execute("SELECT count(*) FROM requests").fetchone()[0] == 0
        producer = threading.Thread(target=produce)
        producer.start()
        seen: list[int] = []
        try:
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                run = load_run(db, run_id, with_telemetry=False)
                seen.append(len(run.requests))
                assert list(run.requests.turn) == list(range(len(run.requests)))  # whole batches only
                assert list_runs(db)[0].status == "running"
                time.sleep(0.05)
        finally:
            stop.set()
            producer.join()
        assert holder.execute("SELECT count(*) FROM requests").fetchone()[0] == 0  # its snapshot
        holder.execute("COMMIT")
        assert holder.execute("SELECT count(*) FROM requests").fetchone()[0] > 0

    assert seen == sorted(seen) and len(set(seen)) >= 4, seen  # several commits observed mid-run
    store.flush()
    assert len(load_run(db, run_id).requests) == handed[0]


def test_finished_request_reaches_disk_without_flush(store: RunStore, db: Path) -> None:
    run_id = new_run(store)
    handed_at = time.monotonic()
    store.add_requests(run_id, [make_result(7, trajectory_id="marker")], level=None)
    with contextlib.closing(sqlite3.connect(db)) as reader:
        while time.monotonic() - handed_at < 5.0:
            if reader.execute("SELECT count(*) FROM requests WHERE trajectory = 'marker'").fetchone()[0]:
                break
            time.sleep(0.01)
        delay = time.monotonic() - handed_at
    assert delay < 2.0, f"request reached the file only after {delay:.2f} s"


def test_writes_wait_out_another_writer_holding_the_lock(store: RunStore, db: Path) -> None:
    """Another process writing (e.g. `runs annotate`) delays commits; callers and rows are unaffected."""
    run_id = new_run(store)
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        for i in range(50):
            store.add_requests(run_id, [make_result(i, turn=i)], level=0)  # returns at once
        time.sleep(0.6)
        assert store.status().requests_written == 0 and store.status().pending > 0
        other.execute("COMMIT")
    store.flush(timeout=10.0)
    assert store.status().failed_writes == 0
    assert list(load_run(db, run_id).requests.turn) == list(range(50))
