"""RunStore: the crash-safe writer. Callers enqueue; one thread commits batches to SQLite.

Every `add_*`/`put_level`/`annotate`/`finish_run` call only puts a tuple on an unbounded queue
and returns: no caller ever waits for the disk. A writer thread takes what has queued up over
at most `batch_window_s` (0.2 s by default), writes it in one transaction and commits it with a
full sync (WAL, `synchronous=FULL`), so a finished request is on disk well within a second of
being handed over, and a killed process leaves every committed batch readable.

A batch that fails is retried op by op so one bad row loses only itself; transient failures
(database locked by another process, disk full, I/O error) are retried for a while first.
Failures are counted in `status()` and raised by `flush()`/`close()` as StoreWriteError.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentperf_tui import __version__
from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.store.errors import StoreClosedError, StoreWriteError, UnknownRunError
from agentperf_tui.core.store.liveness import HEARTBEAT_INTERVAL_S, current_writer
from agentperf_tui.core.store.rows import (
    LEVEL_COLUMNS,
    REQUEST_COLUMNS,
    TELEMETRY_COLUMNS,
    dumps_json,
    insert_sql,
    level_row,
    request_row,
    telemetry_row,
)
from agentperf_tui.core.store.run_ids import new_run_id
from agentperf_tui.core.store.schema import connect_writer
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.telemetry.base import GpuSample

log = logging.getLogger(__name__)

FINAL_STATUSES = ("finished", "aborted", "crashed")
_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_PROTOCOL")
_TRANSIENT_RETRIES = 6
_MAX_BATCH_ROWS = 20_000
"""Rows per transaction at most, so a backlog is committed in steps of a fraction of a second."""

_REQUESTS_SQL = insert_sql("requests", REQUEST_COLUMNS)
_TELEMETRY_SQL = insert_sql("telemetry", TELEMETRY_COLUMNS)
_SERVER_SQL = insert_sql("server_metrics", ("t", "name", "value"))
_ANNOTATION_SQL = insert_sql("annotations", ("t", "wall", "text"))
_LEVEL_SQL = (
    insert_sql("levels", LEVEL_COLUMNS)
    + " ON CONFLICT(run_pk, idx) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in LEVEL_COLUMNS[1:])
)
_RUN_SQL = (
    "INSERT INTO runs (id, started_wall, config, endpoint, model, simulated, status, note, "
    "writer_pid, writer_host, writer_token, heartbeat_wall, program_version) "
    "VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class StoreStatus:
    path: Path
    pending: int
    """Operations handed over and not yet committed (queued or in the transaction being written)."""
    requests_written: int
    commits: int
    failed_writes: int
    """Operations that could not be written (their rows are lost)."""
    last_error: str | None


class RunStore:
    """Crash-safe, non-blocking writer of runs to one SQLite file.

    Thread-safe: any thread (the engine's event loop, a telemetry sampler) may call it.
    """

    def __init__(
        self, path: str | Path, *, batch_window_s: float = 0.2, heartbeat_s: float = HEARTBEAT_INTERVAL_S
    ) -> None:
        self.path = Path(path).expanduser()
        self._conn = connect_writer(self.path)
        self._window = batch_window_s
        self._heartbeat_s = heartbeat_s
        self._queue: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._closed = False
        self._close_lock = threading.Lock()
        self._pks: dict[str, int] = {}
        self._open_runs: set[int] = set()
        self._last_heartbeat = 0.0
        self._writer = current_writer()
        self._requests_written = 0
        self._in_flight = 0
        self._commits = 0
        self._failed = 0
        self._reported_failed = 0
        self._last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"run-store {self.path.name}", daemon=True)
        self._thread.start()
        ref = weakref.ref(self)
        self._atexit = lambda: _close_quietly(ref)
        atexit.register(self._atexit)

    # ------------------------------------------------------------------ public API (callers)

    def create_run(
        self,
        *,
        config: dict[str, Any],
        endpoint: str,
        model: str,
        simulated: bool,
        started_wall: float,
        note: str | None = None,
    ) -> str:
        """Record a new run (status "running") and return its id once the row is committed.

        The only call that waits for the writer: the run must exist, with a unique id, before
        anything refers to it. It is made once, before the run starts.
        """
        future: Future[str] = Future()
        self._put(("create", dumps_json(config), endpoint, model, simulated, started_wall, note, future))
        try:
            return future.result(timeout=30.0)
        except TimeoutError as exc:
            raise StoreWriteError(self.path, "timed out creating the run record (store busy?)") from exc
        except sqlite3.Error as exc:
            raise StoreWriteError(self.path, f"cannot create the run record: {exc}") from exc

    def add_requests(self, run_id: str, results: Sequence[RequestResult], level: int | None) -> None:
        """Queue finished requests of `level` (None: outside any level). Never blocks."""
        if results:
            self._put(("requests", run_id, tuple(results), level))

    def put_level(self, run_id: str, level: LevelRecord) -> None:
        """Insert or replace the run's level `level.index`. Never blocks."""
        self._put(("level", run_id, level))

    def add_telemetry(self, run_id: str, samples: Sequence[GpuSample], source: str) -> None:
        if samples:
            self._put(("telemetry", run_id, tuple(samples), source))

    def add_server_metrics(self, run_id: str, rows: Sequence[tuple[float, dict[str, float]]]) -> None:
        """Queue server metric readings: (t, {normalised name: value}) per scrape."""
        if rows:
            self._put(("server", run_id, tuple(rows)))

    def annotate(self, run_id: str, t: float, text: str) -> None:
        """Queue an operator note at run-clock time `t` (wall time taken now)."""
        self._put(("annotate", run_id, t, time.time(), text))

    def set_note(self, run_id: str, note: str | None) -> None:
        """Set the run's one-line note (shown in `runs list`)."""
        self._put(("note", run_id, note))

    def finish_run(self, run_id: str, *, status: str, summary: RunSummary) -> None:
        """Queue the final record: status "finished", "aborted" or "crashed", and the summary."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"finish_run status must be one of {', '.join(FINAL_STATUSES)}, not {status!r}")
        self._put(("finish", run_id, status, summary.to_json().decode(), time.time()))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is committed.

        Raises TimeoutError when that takes longer than `timeout`, StoreWriteError when some
        writes failed since the last flush.
        """
        done = threading.Event()
        self._put(("barrier", done))
        if not done.wait(timeout):
            pending = self.status().pending
            raise TimeoutError(f"{self.path}: {pending} writes still pending after {timeout:g} s")
        self._raise_failures()

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, stop the writer thread and close the file. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self._atexit)
        self._queue.put(("stop",))
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{self.path}: writer still busy after {timeout:g} s; some rows may be lost")
        self._raise_failures()

    def status(self) -> StoreStatus:
        return StoreStatus(
            path=self.path,
            pending=self._queue.qsize() + self._in_flight,
            requests_written=self._requests_written,
            commits=self._commits,
            failed_writes=self._failed,
            last_error=self._last_error,
        )

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _put(self, op: tuple[Any, ...]) -> None:
        if self._closed:
            raise StoreClosedError(self.path, "the run store is closed; no more writes are accepted")
        self._queue.put(op)

    def _raise_failures(self) -> None:
        failed = self._failed
        if failed > self._reported_failed:
            new = failed - self._reported_failed
            self._reported_failed = failed
            raise StoreWriteError(self.path, f"{new} write(s) failed; last error: {self._last_error}")

    def _run(self) -> None:
        try:
            while True:
                batch, control = self._collect()
                if batch or self._heartbeat_due():
                    self._in_flight = len(batch)
                    self._commit(batch)
                    self._in_flight = 0
                if control is not None and control[0] == "barrier":
                    control[1].set()
                elif control is not None:
                    self._last_words()
                    return
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()

    def _last_words(self) -> None:
        """At close: commit anything that raced in after the stop, and mark runs left unfinished
        (no finish_run) as no longer written, so readers show them incomplete at once."""
        late: list[tuple[Any, ...]] = []
        while True:
            try:
                late.append(self._queue.get_nowait())
            except queue.Empty:
                break
        writes = [op for op in late if op[0] not in ("barrier", "stop")]
        if writes:
            self._commit(writes)
        if self._open_runs:
            self._commit([("orphan", tuple(self._open_runs))])
        for op in late:
            if op[0] == "barrier":
                op[1].set()

    def _collect(self) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
        """Write ops arriving within one batch window after the first, and the control op
        ("barrier" or "stop") that ended the window early, if one did."""
        batch: list[tuple[Any, ...]] = []
        try:
            op = self._queue.get(timeout=self._heartbeat_s)
        except queue.Empty:
            return batch, None
        deadline = time.monotonic() + self._window
        rows = 0
        while True:
            if op[0] in ("barrier", "stop"):
                return batch, op
            batch.append(op)
            rows += len(op[2]) if op[0] in ("requests", "telemetry", "server") else 1
            if op[0] == "create" or rows >= _MAX_BATCH_ROWS:
                return batch, None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return batch, None
            try:
                op = self._queue.get(timeout=remaining)
            except queue.Empty:
                return batch, None

    def _heartbeat_due(self) -> bool:
        return bool(self._open_runs) and time.time() - self._last_heartbeat >= self._heartbeat_s / 2

    def _commit(self, batch: list[tuple[Any, ...]]) -> None:
        for attempt in range(_TRANSIENT_RETRIES + 1):
            try:
                done = self._transaction(batch)
            except sqlite3.OperationalError as exc:
                transient = getattr(exc, "sqlite_errorname", "").startswith(_TRANSIENT)
                if transient and attempt < _TRANSIENT_RETRIES:
                    self._last_error = f"{exc} (retried)"
                    time.sleep(0.5 * (attempt + 1))
                    continue
                self._isolate(batch, exc)
                return
            except Exception as exc:
                self._isolate(batch, exc)
                return
            for callback in done:
                callback()
            return

    def _isolate(self, batch: list[tuple[Any, ...]], exc: Exception) -> None:
        """Retry the ops of a failed batch one by one so only the bad ones are lost."""
        if len(batch) <= 1:
            self._fail(batch[0] if batch else None, exc)
            return
        for op in batch:
            try:
                done = self._transaction([op])
            except Exception as op_exc:
                self._fail(op, op_exc)
                continue
            for callback in done:
                callback()

    def _fail(self, op: tuple[Any, ...] | None, exc: Exception) -> None:
        what = op[0] if op else "heartbeat"
        self._failed += 1
        self._last_error = f"{what}: {type(exc).__name__}: {exc}"
        log.error("run store %s: lost a %s write: %s", self.path, what, exc)
        if op is not None and op[0] == "create":
            op[-1].set_exception(exc)

    def _transaction(self, batch: list[tuple[Any, ...]]) -> list[Callable[[], None]]:
        """Apply `batch` in one committed transaction; returns callbacks to run after the commit."""
        done: list[Callable[[], None]] = []
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            if self._open_runs and now - self._last_heartbeat >= self._heartbeat_s / 2:
                # First, so that a finish or orphan mark in this batch has the last word.
                marks = ", ".join("?" * len(self._open_runs))
                conn.execute(
                    f"UPDATE runs SET heartbeat_wall = ? WHERE pk IN ({marks})", (now, *self._open_runs)
                )
                done.append(lambda: setattr(self, "_last_heartbeat", now))
            requests = 0
            for op in batch:
                requests += self._apply(op, done)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        self._commits += 1
        self._requests_written += requests
        return done

    def _pk(self, run_id: str) -> int:
        pk = self._pks.get(run_id)
        if pk is None:
            row = self._conn.execute("SELECT pk FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise UnknownRunError(self.path, run_id)
            pk = self._pks[run_id] = int(row[0])
        return pk

    def _apply(self, op: tuple[Any, ...], done: list[Callable[[], None]]) -> int:
        """Execute one op inside the open transaction; returns the number of requests written."""
        conn = self._conn
        kind = op[0]
        if kind == "requests":
            _, run_id, results, level = op
            pk = self._pk(run_id)
            conn.executemany(_REQUESTS_SQL, [request_row(pk, level, r) for r in results])
            return len(results)
        if kind == "level":
            _, run_id, level = op
            conn.execute(_LEVEL_SQL, level_row(self._pk(run_id), level))
        elif kind == "telemetry":
            _, run_id, samples, source = op
            pk = self._pk(run_id)
            conn.executemany(_TELEMETRY_SQL, [telemetry_row(pk, s, source) for s in samples])
        elif kind == "server":
            _, run_id, rows = op
            pk = self._pk(run_id)
            conn.executemany(
                _SERVER_SQL, [(pk, t, name, value) for t, values in rows for name, value in values.items()]
            )
        elif kind == "annotate":
            _, run_id, t, wall, text = op
            conn.execute(_ANNOTATION_SQL, (self._pk(run_id), t, wall, text))
        elif kind == "note":
            _, run_id, note = op
            conn.execute("UPDATE runs SET note = ? WHERE pk = ?", (note, self._pk(run_id)))
        elif kind == "finish":
            _, run_id, status, summary, wall = op
            pk = self._pk(run_id)
            conn.execute(
                "UPDATE runs SET status = ?, summary = ?, finished_wall = ?, heartbeat_wall = ? WHERE pk = ?",
                (status, summary, wall, wall, pk),
            )
            done.append(lambda: self._open_runs.discard(pk))
        elif kind == "create":
            self._apply_create(op, done)
        elif kind == "orphan":
            pks = op[1]
            conn.execute(f"UPDATE runs SET heartbeat_wall = 0 WHERE pk IN ({', '.join('?' * len(pks))})", pks)
            done.append(self._open_runs.clear)
        else:
            raise ValueError(f"unknown run store operation {kind!r}")
        return 0

    def _apply_create(self, op: tuple[Any, ...], done: list[Callable[[], None]]) -> None:
        _, config, endpoint, model, simulated, started_wall, note, future = op
        w = self._writer
        for _ in range(50):
            run_id = new_run_id(started_wall)
            try:
                cur = self._conn.execute(
                    _RUN_SQL,
                    (run_id, started_wall, config, endpoint, model, bool(simulated), note,
                     w.pid, w.host, w.token, time.time(), __version__),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                continue  # id taken (same second, same random suffix): draw again
            pk = int(cur.lastrowid or 0)

            def created(run_id: str = run_id, pk: int = pk) -> None:
                self._pks[run_id] = pk
                self._open_runs.add(pk)
                future.set_result(run_id)

            done.append(created)
            return
        raise sqlite3.IntegrityError("could not draw a free run id")


def _close_quietly(ref: weakref.ReferenceType[RunStore]) -> None:
    store = ref()
    if store is not None:
        try:
            store.close(timeout=5.0)
        except Exception as exc:
            log.error("run store %s: %s", store.path, exc)
