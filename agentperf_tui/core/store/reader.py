"""Reading runs back: listings, one run as column arrays, run id resolution.

Readers open the file on their own connection and may run while a RunStore writes to it (WAL:
a reader sees every committed batch and never blocks the writer).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agentperf_tui.core.store.access import (
    RUN_SELECT,
    level_columns,
    load_info,
    open_store,
    resolve,
    run_info,
    snapshot,
)
from agentperf_tui.core.store.errors import StoreNotFoundError
from agentperf_tui.core.store.models import (
    Annotation,
    RequestTable,
    RunData,
    RunInfo,
    ServerMetricsTable,
    TelemetryTable,
)
from agentperf_tui.core.store.partial import rebuilt_summary
from agentperf_tui.core.store.rows import REQUEST_COLUMNS, TELEMETRY_COLUMNS, level_from_row

# Column kinds in REQUEST_COLUMNS / TELEMETRY_COLUMNS order: f float (NaN = missing), i int, b bool, o text.
_REQUEST_KINDS = "fioiifffffboffffiif"
_TELEMETRY_KINDS = "fofffffffo"
assert len(_REQUEST_KINDS) == len(REQUEST_COLUMNS) and len(_TELEMETRY_KINDS) == len(TELEMETRY_COLUMNS)
_DTYPES = {"f": np.float64, "i": np.int64, "b": np.bool_, "o": object}


def list_runs(path: str | Path) -> list[RunInfo]:
    """Every run in the store, newest first; [] when the store does not exist yet."""
    try:
        with open_store(path) as conn:
            if conn is None:
                return []
            rows = conn.execute(RUN_SELECT + " ORDER BY r.started_wall DESC, r.id DESC").fetchall()
    except StoreNotFoundError:
        return []
    now = time.time()
    return [run_info(row, now)[1] for row in rows]


def resolve_run_id(path: str | Path, ref: str) -> str:
    """The full id of the run `ref` names: an id, a unique id prefix, or "latest"."""
    with open_store(path) as conn:
        return resolve(conn, Path(path), ref)[1]


def load_run(
    path: str | Path, run_id: str, *, with_requests: bool = True, with_telemetry: bool = True
) -> RunData:
    """Everything about one run. `run_id` may also be a unique prefix or "latest".

    A run whose writer was killed loads like any other: what was committed is there, and
    `info.status` says INCOMPLETE. `with_requests`/`with_telemetry` False skip the big tables.
    """
    with open_store(path) as conn:
        pk, _ = resolve(conn, Path(path), run_id)
        assert conn is not None
        with snapshot(conn):
            return _load(conn, pk, with_requests, with_telemetry)


def _load(conn: sqlite3.Connection, pk: int, with_requests: bool, with_telemetry: bool) -> RunData:
    config, info, summary = load_info(conn, pk)
    level_rows = conn.execute(
        f"SELECT {', '.join(level_columns(conn))} FROM levels WHERE run_pk = ? ORDER BY idx", (pk,)
    ).fetchall()
    levels = [level_from_row(r) for r in level_rows]
    annotations = [
        Annotation(t=t, wall=wall, text=text)
        for t, wall, text in conn.execute(
            "SELECT t, wall, text FROM annotations WHERE run_pk = ? ORDER BY id", (pk,)
        )
    ]
    req_rows = []
    if with_requests:
        req_rows = conn.execute(
            f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests WHERE run_pk = ? ORDER BY rowid", (pk,)
        ).fetchall()
    tel_rows, srv_rows = [], []
    if with_telemetry:
        tel_rows = conn.execute(
            f"SELECT {', '.join(TELEMETRY_COLUMNS)} FROM telemetry WHERE run_pk = ? ORDER BY t, rowid", (pk,)
        ).fetchall()
        srv_rows = conn.execute(
            "SELECT t, name, value FROM server_metrics WHERE run_pk = ? ORDER BY t, rowid", (pk,)
        ).fetchall()
    return RunData(
        info=info,
        config=config,
        summary=summary if summary is not None else rebuilt_summary(info, config, levels),
        levels=levels,
        annotations=annotations,
        requests=RequestTable(**_columns(req_rows, REQUEST_COLUMNS, _REQUEST_KINDS)),
        telemetry=TelemetryTable(**_columns(tel_rows, TELEMETRY_COLUMNS, _TELEMETRY_KINDS)),
        server_metrics=ServerMetricsTable(**_columns(srv_rows, ("t", "name", "value"), ("f", "o", "f"))),
    )


def _columns(rows: list[Any], names: Sequence[str], kinds: Sequence[str]) -> dict[str, np.ndarray]:
    columns: Sequence[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    out: dict[str, np.ndarray] = {}
    for name, kind, values in zip(names, kinds, columns, strict=True):
        if kind == "o":
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
        else:
            arr = np.array(values, dtype=_DTYPES[kind])
        out[name] = arr
    return out
