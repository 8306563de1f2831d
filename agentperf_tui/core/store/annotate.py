"""Adding an operator note to a run from outside the process that writes it (`runs annotate`)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from agentperf_tui.core.store.access import load_info, open_store, resolve
from agentperf_tui.core.store.errors import StoreWriteError
from agentperf_tui.core.store.models import Annotation


def annotate_run(path: str | Path, run_id: str, text: str) -> tuple[str, Annotation]:
    """Append `text` to the run's annotations; returns (full run id, the annotation).

    While the run is live, `t` is the time since it started (the run clock, to within the gap
    between wall start and clock start); for a run that has ended, `t` is None.
    """
    text = text.strip()
    if not text:
        raise ValueError("an annotation needs some text")
    store = Path(path).expanduser()
    with open_store(store) as conn:
        pk, full_id = resolve(conn, store, run_id)
        assert conn is not None
        _, info, _ = load_info(conn, pk)
        now = time.time()
        t = now - info.started_wall if info.status == "running" else None
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO annotations (run_pk, t, wall, text) VALUES (?, ?, ?, ?)", (pk, t, now, text)
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreWriteError(store, f"cannot add the annotation: {exc}") from exc
    return full_id, Annotation(t=t, wall=now, text=text)
