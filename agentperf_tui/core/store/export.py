"""Exporting one run to JSON (one document) or CSV (one file per table).

Both read one consistent snapshot of the run, so exporting a run that is still being written
is safe. Files are written next to their target and renamed into place.
"""

from __future__ import annotations

import csv
import math
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from agentperf_tui.core.store.access import level_columns, load_info, open_store, resolve, snapshot
from agentperf_tui.core.store.rows import (
    ANNOTATION_COLUMNS,
    REQUEST_COLUMNS,
    SERVER_METRIC_COLUMNS,
    TELEMETRY_COLUMNS,
    level_from_row,
    result_from_row,
)

EXPORT_FORMAT = "agentperf-run-export/1"
DERIVED_REQUEST_COLUMNS = ("ttft_s", "output_speed_tok_s", "client_lag_s")
"""Extra CSV columns computed exactly as RequestResult.ttft / .output_speed / .client_lag."""
_BY_T = "t, rowid"


def export_json(path: str | Path, run_id: str, out: Path) -> Path:
    """Write the whole run as one JSON document; `out` is a file, or a folder for <run id>.json.

    NaN and infinite values become null; request rows hold the stored columns only.
    """
    store = Path(path).expanduser()
    with open_store(store) as conn:
        pk, full_id = resolve(conn, store, run_id)
        assert conn is not None
        with snapshot(conn):
            doc = _run_document(conn, pk)
            doc["levels"] = [
                level_from_row(r).model_dump(mode="json")
                for r in _rows(conn, "levels", level_columns(conn), pk, "idx")
            ]
            doc["annotations"] = _dicts(conn, "annotations", ANNOTATION_COLUMNS, pk, "id")
            doc["requests"] = [
                {**d, "ok": bool(d["ok"])} for d in _dicts(conn, "requests", REQUEST_COLUMNS, pk, "rowid")
            ]
            doc["telemetry"] = _dicts(conn, "telemetry", TELEMETRY_COLUMNS, pk, _BY_T)
            doc["server_metrics"] = _dicts(conn, "server_metrics", SERVER_METRIC_COLUMNS, pk, _BY_T)
    target = out / f"{full_id}.json" if out.is_dir() else out
    data = orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE)
    _write_atomic(target, lambda f: f.write(data.decode()))
    return target


def export_csv(path: str | Path, run_id: str, out_dir: Path) -> list[Path]:
    """Write requests.csv, levels.csv, telemetry.csv, server_metrics.csv, annotations.csv and
    run.json (id, config, summary) into `out_dir` (created if needed); returns the paths."""
    store = Path(path).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with open_store(store) as conn:
        pk, _ = resolve(conn, store, run_id)
        assert conn is not None
        with snapshot(conn):
            meta = _run_document(conn, pk)
            level_csv = tuple(c for c in level_columns(conn) if c != "record")
            target = out_dir / "run.json"
            _write_atomic(target, lambda f: f.write(orjson.dumps(meta, option=orjson.OPT_INDENT_2).decode()))
            written.append(target)
            request_rows = (
                (*row, *_derived(row)) for row in _rows(conn, "requests", REQUEST_COLUMNS, pk, "rowid")
            )
            tables: list[tuple[str, Sequence[str], Iterable[Sequence[Any]]]] = [
                ("requests.csv", (*REQUEST_COLUMNS, *DERIVED_REQUEST_COLUMNS), request_rows),
                ("levels.csv", level_csv, _rows(conn, "levels", level_csv, pk, "idx")),
                ("telemetry.csv", TELEMETRY_COLUMNS, _rows(conn, "telemetry", TELEMETRY_COLUMNS, pk, _BY_T)),
                ("server_metrics.csv", SERVER_METRIC_COLUMNS,
                 _rows(conn, "server_metrics", SERVER_METRIC_COLUMNS, pk, _BY_T)),
                ("annotations.csv", ANNOTATION_COLUMNS,
                 _rows(conn, "annotations", ANNOTATION_COLUMNS, pk, "id")),
            ]  # fmt: skip
            for name, header, rows in tables:
                target = out_dir / name
                _write_atomic(target, _csv_writer(header, rows))
                written.append(target)
    return written


def _rows(conn: sqlite3.Connection, table: str, columns: Sequence[str], pk: int, order: str) -> Iterator[Any]:
    sql = f"SELECT {', '.join(columns)} FROM {table} WHERE run_pk = ? ORDER BY {order}"
    return iter(conn.execute(sql, (pk,)))


def _dicts(
    conn: sqlite3.Connection, table: str, columns: Sequence[str], pk: int, order: str
) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in _rows(conn, table, columns, pk, order)]


def _run_document(conn: sqlite3.Connection, pk: int) -> dict[str, Any]:
    config, info, summary = load_info(conn, pk)
    run = asdict(info)
    run["started_utc"] = datetime.fromtimestamp(info.started_wall, tz=UTC).isoformat()
    stored = summary.model_dump(mode="json", by_alias=True) if summary is not None else None
    return {"format": EXPORT_FORMAT, "run": run, "config": config, "summary": stored}


def _derived(row: Sequence[Any]) -> tuple[float, float, float | None]:
    r = result_from_row(row)
    lag = r.client_lag
    return r.ttft, r.output_speed, None if math.isnan(lag) else lag


def _csv_writer(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Callable[[TextIO], None]:
    """CSV with a header; None (SQL NULL) becomes an empty cell, infinity "inf"."""

    def write(f: TextIO) -> None:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)

    return write


def _write_atomic(target: Path, write: Callable[[TextIO], Any]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
