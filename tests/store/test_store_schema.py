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
from agentperf_tui.core.store.schema import _SCHEMA_V1, APPLICATION_ID


def _set(db: Path, pragma: str) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(f"PRAGMA {pragma}")


def _user_version(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_new_store_records_its_schema_version(store: RunStore, db: Path) -> None:
    new_run(store)
    assert _user_version(db) == SCHEMA_VERSION == 2


def test_a_version_1_store_is_read_as_it_is_and_migrated_by_a_writer(tmp_path: Path) -> None:
    db = tmp_path / "v1.sqlite3"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for statement in _SCHEMA_V1:
            conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO runs (id, started_wall, config, endpoint, model, simulated, status, summary) "
            "VALUES ('20260101-0000-abcd', 1.0, '{\"tier\": \"30/10\"}', 'http://h:8000', 'm', 0, "
            "'finished', ?)",
            ('{"status": "finished", "result": {"n_star": 8, "speed_floor": 30, "ttft_limit": 10}}',),
        )
        conn.execute(
            "INSERT INTO levels (run_pk, idx, n, phase, requests, failed, trajectories_completed, "
            "speed_p25, ttft_p95, speed_verdict, ttft_verdict, verdict) "
            "VALUES (1, 0, 8, 'settled', 40, 0, 9, 41.5, 2.5, 'pass', 'pass', 'pass')"
        )
        conn.commit()
    run = load_run(db, "latest")  # a reader changes nothing
    assert _user_version(db) == 1
    [level] = run.levels
    assert (level.n, level.verdict, level.outcome, level.speed_p25) == (8, "pass", "measured", 41.5)
    assert run.summary.result is not None and run.summary.result.n_star == 8
    assert run.info.headline == "N*=8 @ custom/30-10"
    with RunStore(db) as store:  # a writer migrates
        store.put_level(run.info.id, level.model_copy(update={"index": 1, "n": 16}))
    assert _user_version(db) == SCHEMA_VERSION
    assert [lv.n for lv in load_run(db, "latest").levels] == [8, 16]


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
