"""Schema versioning and files that are not (readable) run stores: clear errors, nothing touched."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from store_factories import new_run

from agentperf_tui.core.store import (
    SCHEMA_VERSION,
    RunStore,
    SchemaVersionError,
    StoreNotFoundError,
    StoreUnreadableError,
    UnknownRunError,
    list_runs,
    load_run,
)


def _set(db: Path, pragma: str) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(f"PRAGMA {pragma}")


def _user_version(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_new_store_records_its_schema_version(store: RunStore, db: Path) -> None:
    new_run(store)
    assert _user_version(db) == SCHEMA_VERSION == 1


def test_newer_schema_is_refused_by_writer_and_reader(db: Path) -> None:
    with RunStore(db) as store:
        run_id = new_run(store)
    _set(db, "user_version = 7")
    for attempt in (lambda: RunStore(db), lambda: list_runs(db), lambda: load_run(db, run_id)):
        with pytest.raises(SchemaVersionError) as err:
            attempt()
        assert err.value.found == 7 and err.value.supported == SCHEMA_VERSION
        message = str(err.value)
        assert str(db) in message and "newer" in message and "upgrade agentperf-tui" in message
    assert _user_version(db) == 7  # left as it was


def test_unknown_older_schema_is_refused(db: Path) -> None:
    with RunStore(db) as store:
        new_run(store)
    _set(db, "user_version = 0")
    with pytest.raises(SchemaVersionError, match="schema version 0 is unknown"):
        list_runs(db)
    with pytest.raises(SchemaVersionError):
        RunStore(db)


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE things (x)")
    for attempt in (lambda: RunStore(other), lambda: list_runs(other)):
        with pytest.raises(StoreUnreadableError, match="not an agentperf-tui run store"):
            attempt()


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "runs.sqlite3"
    junk.write_bytes(b"this is not a database at all, just text" * 100)
    for attempt in (lambda: RunStore(junk), lambda: list_runs(junk), lambda: load_run(junk, "latest")):
        with pytest.raises(StoreUnreadableError, match="not a readable SQLite run store") as err:
            attempt()
        assert str(junk) in str(err.value) and "--store" in str(err.value)
    assert junk.read_bytes().startswith(b"this is not a database")


def test_missing_and_empty_stores(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "runs.sqlite3"
    assert list_runs(missing) == []
    with pytest.raises(StoreNotFoundError, match="no run store here yet"):
        load_run(missing, "latest")
    assert not missing.exists()

    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    assert list_runs(empty) == []
    with pytest.raises(UnknownRunError):
        load_run(empty, "latest")
    with RunStore(empty) as store:  # an empty file becomes a store
        new_run(store)
    assert len(list_runs(empty)) == 1


def test_unknown_and_ambiguous_run_ids(store: RunStore, db: Path) -> None:
    a = new_run(store, started_wall=1_750_000_000.0)
    b = new_run(store, started_wall=1_750_000_000.0)
    with pytest.raises(UnknownRunError, match="runs list") as err:
        load_run(db, "19990101")
    assert err.value.candidates == ()
    with pytest.raises(UnknownRunError, match="ambiguous") as err:
        load_run(db, a[:15])
    assert set(err.value.candidates) == {a, b}
