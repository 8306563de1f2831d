"""Opening a store for reading, resolving run references, and the run row as RunInfo."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from agentperf_tui.core.store.errors import UnknownRunError
from agentperf_tui.core.store.liveness import writer_alive
from agentperf_tui.core.store.models import INCOMPLETE, RunInfo
from agentperf_tui.core.store.partial import configured_tier
from agentperf_tui.core.store.rows import LEVEL_COLUMNS, LEVEL_COLUMNS_V1, loads_json
from agentperf_tui.core.store.schema import connect_reader
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.summary.upgrade import read_summary

LATEST = ("latest", "last")
"""Run references that mean "the most recently started run"."""

RUN_SELECT = """
    SELECT r.pk, r.id, r.started_wall, r.endpoint, r.model, r.simulated, r.status, r.summary,
           r.config, r.note, r.finished_wall, r.writer_pid, r.writer_host, r.writer_token,
           r.heartbeat_wall,
           (SELECT count(*) FROM annotations a WHERE a.run_pk = r.pk),
           (SELECT text FROM annotations a WHERE a.run_pk = r.pk ORDER BY a.id LIMIT 1),
           (SELECT max(n) FROM levels l WHERE l.run_pk = r.pk AND l.verdict = 'pass'),
           (SELECT n FROM levels l WHERE l.run_pk = r.pk ORDER BY l.idx DESC LIMIT 1),
           (SELECT verdict FROM levels l WHERE l.run_pk = r.pk ORDER BY l.idx DESC LIMIT 1)
    FROM runs r
"""


@contextlib.contextmanager
def open_store(path: str | Path) -> Iterator[sqlite3.Connection | None]:
    """A reading connection (None for a file with no schema yet), closed on exit."""
    conn = connect_reader(Path(path).expanduser())
    try:
        yield conn
    finally:
        if conn is not None:
            conn.close()


@contextlib.contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction: every query inside sees the same committed state of the file."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def resolve(conn: sqlite3.Connection | None, path: Path, ref: str) -> tuple[int, str]:
    if conn is None:
        raise UnknownRunError(path, ref)
    ref = ref.strip()
    if ref.lower() in LATEST:
        row = conn.execute("SELECT pk, id FROM runs ORDER BY started_wall DESC, id DESC LIMIT 1").fetchone()
        if row is None:
            raise UnknownRunError(path, ref)
        return int(row[0]), str(row[1])
    row = conn.execute("SELECT pk, id FROM runs WHERE id = ?", (ref,)).fetchone()
    if row is not None:
        return int(row[0]), str(row[1])
    matches = conn.execute(
        "SELECT pk, id FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id", (ref,)
    ).fetchall() if ref else []  # fmt: skip
    if len(matches) == 1:
        return int(matches[0][0]), str(matches[0][1])
    raise UnknownRunError(path, ref, tuple(str(m[1]) for m in matches))


def level_columns(conn: sqlite3.Connection) -> tuple[str, ...]:
    """The level columns this store has (a version 1 store has no whole-record column)."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    return LEVEL_COLUMNS if version >= 2 else LEVEL_COLUMNS_V1


def tier_label(summary: RunSummary | None, config: dict[str, Any]) -> str | None:
    """The run's tier by name: from its result, else as configured."""
    if summary is not None and summary.result is not None and summary.result.tier is not None:
        return summary.result.tier.name
    tier = configured_tier(config)
    if tier is not None:
        return tier.name
    named = config.get("tier")
    return named if isinstance(named, str) and named else None


def run_info(row: Sequence[Any], now: float) -> tuple[dict[str, Any], RunInfo, RunSummary | None]:
    (_pk, run_id, started, endpoint, model, simulated, status, summary_text, config_text, note,
     finished_wall, pid, host, token, heartbeat, n_annotations, first_annotation, best, last_n,
     last_verdict) = row  # fmt: skip
    summary = read_summary(loads_json(summary_text))
    config = loads_json(config_text) or {}
    shown = status
    if status == "running" and not writer_alive(pid, host, token, heartbeat, now):
        shown = INCOMPLETE
    # A summary means the run ended: its N* is final (from the summary, else the best pass).
    final = summary is not None
    n = (summary.result.n_star if summary.result is not None else None) if summary is not None else best
    info = RunInfo(
        id=run_id,
        started_wall=started,
        endpoint=endpoint,
        model=model,
        simulated=bool(simulated),
        status=shown,
        stored_status=status,
        result_n=None if n is None else int(n),
        result_final=final,
        tier=tier_label(summary, config),
        annotations=int(n_annotations),
        first_annotation=first_annotation,
        note=note,
        finished_wall=finished_wall,
        writer_host=host,
        writer_pid=pid,
        mode=config.get("mode") if isinstance(config.get("mode"), str) else None,
        last_level=None if last_n is None else (int(last_n), str(last_verdict)),
    )  # fmt: skip
    return config, info, summary


def load_info(conn: sqlite3.Connection, pk: int) -> tuple[dict[str, Any], RunInfo, RunSummary | None]:
    """(config, RunInfo, summary) of the run with primary key `pk`."""
    return run_info(conn.execute(RUN_SELECT + " WHERE r.pk = ?", (pk,)).fetchone(), time.time())
