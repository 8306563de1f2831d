"""Finish records the store could not write (a full disk): kept in a small file beside the store
when it is closed, and written into the store the next time a writer opens it, so a run cut short
by its disk is marked with its status and reason as soon as space allows."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path

import orjson

log = logging.getLogger(__name__)

SUFFIX = ".finish.json"


def _sidecars(store: Path) -> list[Path]:
    return sorted(store.parent.glob(f"{store.name}.*{SUFFIX}"))


def keep_pending_finishes(store: Path, finishes: dict[str, tuple[str, str, float]]) -> None:
    """Write each (status, summary JSON, wall time) beside the store; best effort (the disk may
    still be full)."""
    for run_id, (status, summary, wall) in finishes.items():
        target = store.parent / f"{store.name}.{run_id}{SUFFIX}"
        record = {"run_id": run_id, "status": status, "summary": summary, "wall": wall}
        try:
            target.write_bytes(orjson.dumps(record))
        except OSError as exc:
            log.error("run store %s: could not keep the finish record of %s: %s", store, run_id, exc)


def apply_pending_finishes(conn: sqlite3.Connection, store: Path) -> list[str]:
    """Write the kept finish records into the store (a run still marked running only) and remove
    their files; returns the run ids written."""
    written = []
    for path in _sidecars(store):
        try:
            rec = orjson.loads(path.read_bytes())
            conn.execute(
                "UPDATE runs SET status = ?, summary = ?, finished_wall = ? "
                "WHERE id = ? AND status = 'running'",
                (rec["status"], rec["summary"], rec["wall"], rec["run_id"]),
            )
        except (OSError, orjson.JSONDecodeError, KeyError, sqlite3.Error) as exc:
            log.error("run store %s: could not apply %s: %s", store, path.name, exc)
            continue
        written.append(str(rec["run_id"]))
        with contextlib.suppress(OSError):
            path.unlink()
    return written
