"""The run store's SQLite schema, its version, and opening a store for writing or reading.

The version lives in `PRAGMA user_version`; `PRAGMA application_id` marks the file as an
agentperf-tui run store so a stray SQLite file is refused with a clear message. Times in the
child tables are seconds on the run clock; `runs.started_wall` anchors them to wall time.
Floats that are NaN are stored as NULL (SQLite does so itself) and read back as NaN.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np

from agentperf_tui.core.store.errors import (
    SchemaVersionError,
    StoreNotFoundError,
    StoreUnreadableError,
)

SCHEMA_VERSION = 2
APPLICATION_ID = 0x41505455  # "APTU"
BUSY_TIMEOUT_MS = 5000

RUN_STATUSES = ("running", "finished", "aborted", "crashed")

_SCHEMA_V1 = (
    f"""
    CREATE TABLE runs (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        started_wall REAL NOT NULL,
        config TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        model TEXT NOT NULL,
        simulated INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN {RUN_STATUSES!r}),
        summary TEXT,
        note TEXT,
        finished_wall REAL,
        writer_pid INTEGER,
        writer_host TEXT,
        writer_token TEXT,
        heartbeat_wall REAL,
        program_version TEXT
    ) STRICT
    """,
    """
    CREATE TABLE levels (
        run_pk INTEGER NOT NULL REFERENCES runs(pk) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        n INTEGER NOT NULL,
        phase TEXT NOT NULL,
        started_at REAL,
        measure_from REAL,
        ended_at REAL,
        requests INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        trajectories_completed INTEGER NOT NULL,
        speed_p25 REAL,
        speed_p25_lo REAL,
        speed_p25_hi REAL,
        ttft_p95 REAL,
        ttft_p95_lo REAL,
        ttft_p95_hi REAL,
        speed_verdict TEXT NOT NULL,
        ttft_verdict TEXT NOT NULL,
        verdict TEXT NOT NULL,
        confidence REAL,
        reason TEXT,
        mean_power_w REAL,
        energy_j REAL,
        power_note TEXT,
        PRIMARY KEY (run_pk, idx)
    ) STRICT
    """,
    """
    CREATE TABLE requests (
        run_pk INTEGER NOT NULL REFERENCES runs(pk) ON DELETE CASCADE,
        level INTEGER,
        agent INTEGER NOT NULL,
        trajectory TEXT NOT NULL,
        replay INTEGER NOT NULL,
        turn INTEGER NOT NULL,
        t_intended REAL,
        t_sent REAL,
        t_first_token REAL,
        t_last_token REAL,
        t_end REAL,
        ok INTEGER NOT NULL,
        error TEXT,
        http_status INTEGER,
        prompt_tokens INTEGER,
        cached_tokens INTEGER,
        output_tokens INTEGER,
        client_output_tokens INTEGER NOT NULL,
        requested_output_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER
    ) STRICT
    """,
    "CREATE INDEX requests_by_run ON requests(run_pk, level)",
    """
    CREATE TABLE telemetry (
        run_pk INTEGER NOT NULL REFERENCES runs(pk) ON DELETE CASCADE,
        t REAL NOT NULL,
        gpu TEXT NOT NULL,
        power_w REAL,
        energy_j REAL,
        power_limit_w REAL,
        util_pct REAL,
        mem_used_bytes INTEGER,
        temp_c REAL,
        sm_clock_mhz REAL,
        source TEXT NOT NULL
    ) STRICT
    """,
    "CREATE INDEX telemetry_by_run ON telemetry(run_pk, t)",
    """
    CREATE TABLE server_metrics (
        run_pk INTEGER NOT NULL REFERENCES runs(pk) ON DELETE CASCADE,
        t REAL NOT NULL,
        name TEXT NOT NULL,
        value REAL
    ) STRICT
    """,
    "CREATE INDEX server_metrics_by_run ON server_metrics(run_pk, t)",
    """
    CREATE TABLE annotations (
        id INTEGER PRIMARY KEY,
        run_pk INTEGER NOT NULL REFERENCES runs(pk) ON DELETE CASCADE,
        t REAL,
        wall REAL NOT NULL,
        text TEXT NOT NULL
    ) STRICT
    """,
    "CREATE INDEX annotations_by_run ON annotations(run_pk, id)",
)

MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2: a level row keeps its whole record (role, outcome and every figure) as JSON.
    1: (
        "ALTER TABLE levels ADD COLUMN role TEXT",
        "ALTER TABLE levels ADD COLUMN outcome TEXT",
        "ALTER TABLE levels ADD COLUMN record TEXT",
    ),
}
"""Statements that take a store from version k to k + 1."""


def _register_numpy_adapters() -> None:
    # Rows built from numpy results must bind like plain Python numbers.
    for kind in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_):
        sqlite3.register_adapter(kind, _as_int)
    sqlite3.register_adapter(np.float32, _as_float)


def _as_int(value: object) -> int:
    return int(value)  # type: ignore[call-overload]


def _as_float(value: object) -> float:
    return float(value)  # type: ignore[arg-type]


_register_numpy_adapters()


def _fail_unreadable(path: Path, exc: sqlite3.Error) -> StoreUnreadableError:
    return StoreUnreadableError(
        path,
        f"not a readable SQLite run store ({exc}); check the file, or choose another store with "
        "--store or AGENTPERF_TUI_STORE",
    )


def _schema_state(conn: sqlite3.Connection, path: Path) -> int:
    """The store's schema version; 0 for a file with no tables at all. Raises on foreign files."""
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        tables = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise _fail_unreadable(path, exc) from exc
    if version == 0 and app_id == 0 and tables == 0:
        return 0
    if app_id != APPLICATION_ID:
        raise StoreUnreadableError(
            path,
            "is an SQLite database but not an agentperf-tui run store (application id "
            f"{app_id:#x}); choose another file with --store or AGENTPERF_TUI_STORE",
        )
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            path,
            version,
            SCHEMA_VERSION,
            f"run store schema version {version} is newer than this agentperf-tui understands "
            f"(up to {SCHEMA_VERSION}); upgrade agentperf-tui, or choose another store with --store "
            "or AGENTPERF_TUI_STORE",
        )
    if version < 1 or any(v not in MIGRATIONS for v in range(version, SCHEMA_VERSION)):
        raise SchemaVersionError(
            path,
            version,
            SCHEMA_VERSION,
            f"run store schema version {version} is unknown (this agentperf-tui reads version "
            f"{SCHEMA_VERSION}); the file may be damaged: choose another store with --store",
        )
    return version


def _install_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Create or migrate the schema inside one write transaction (safe against racing writers)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _schema_state(conn, path)
        if version == 0:
            for statement in _SCHEMA_V1:
                conn.execute(statement)
            version = 1
        while version < SCHEMA_VERSION:
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            version += 1
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def connect_writer(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) a store for writing: WAL, full sync per commit, schema current."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnreadableError(path, f"cannot create the store's folder: {exc}") from exc
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _fail_unreadable(path, exc) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = _schema_state(conn, path)  # refuse foreign or newer files before changing anything
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreUnreadableError(path, f"cannot switch the store to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if version < SCHEMA_VERSION:
            _install_schema(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _fail_unreadable(path, exc) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: Path) -> sqlite3.Connection | None:
    """Open an existing store for reading; None when the file holds no schema yet.

    Raises StoreNotFoundError when there is no file, StoreUnreadableError or SchemaVersionError
    when it is not a store this program can read.
    """
    if not path.exists():
        raise StoreNotFoundError(path, "no run store here yet (no runs recorded); pass --store to choose one")
    mode = "rw" if _writable(path) else "ro"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise _fail_unreadable(path, exc) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if _schema_state(conn, path) == 0:
            conn.close()
            return None
    except BaseException:
        conn.close()
        raise
    return conn


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
