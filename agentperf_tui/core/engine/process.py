"""EngineProcess: the engine (and the embedded simulator it may start) in a process of its own.

A console that draws in the same interpreter as the engine competes with it for the interpreter
lock, and every chunk that waits for the lock is timestamped late. In its own process the engine
times requests exactly as a headless run does; the console only receives snapshots.

Same controls as `EngineHandle`; the messages of `core/engine/protocol.py` cross the pipes.
docs/console.md describes the ordering, the log and what happens when either side dies.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
from pathlib import Path

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.protocol import (
    Command,
    Observer,
    Published,
    RunFailed,
    RunSummarised,
    SnapshotPublished,
    StoreOpened,
    deliver,
)
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.views import Snapshot

CHILD_MODULE = "agentperf_tui.core.engine.process_child"
LOG_TAIL_LINES = 12
EXIT_WAIT_S = 5.0


class EngineProcessDied(RuntimeError):
    """The engine process ended without a summary or an error of its own."""


class EngineProcess:
    def __init__(self, config: RunConfig, observers: list[Observer] | None = None) -> None:
        self.config = config
        self.observers: list[Observer] = list(observers or [])
        self.summary: RunSummary | None = None
        self.error: BaseException | None = None
        self._store_path: str | None = config.store
        self._latest: Snapshot | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._commands: Connection | None = None
        self._send_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._done = threading.Event()
        self.log_path = ""
        """The engine's stdout and stderr; kept when the run fails, deleted after a clean one."""

    # ---- lifecycle ----
    def start(self) -> None:
        fd, self.log_path = tempfile.mkstemp(prefix="agentperf-engine-", suffix=".log")
        os.close(fd)
        events_r, events_w = os.pipe()
        commands_r, commands_w = os.pipe()
        try:
            with open(self.log_path, "ab") as log:
                # A new session: Ctrl+C or a dropped SSH session reach the console, which then
                # aborts the run (or closes the pipe, which aborts it too), never the engine itself.
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", CHILD_MODULE, str(events_w), str(commands_r), self.log_path],
                    pass_fds=(events_w, commands_r),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except BaseException:
            for fd in (events_r, commands_w):
                os.close(fd)
            raise
        finally:
            os.close(events_w)
            os.close(commands_r)
        self._commands = Connection(commands_w, readable=False)
        with self._send_lock:
            self._commands.send_bytes(self.config.model_dump_json().encode())
        self._reader = threading.Thread(
            target=self._read,
            args=(Connection(events_r, writable=False),),
            name="agentperf-engine-reader",
            daemon=True,
        )
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def exit_code(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and not self._done.is_set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the engine has reported its end (summary, error or death); True when it has."""
        if self._proc is None:
            return True
        return self._done.wait(timeout)

    def terminate(self, timeout: float = EXIT_WAIT_S) -> None:
        """Stop the child at once (SIGTERM, then SIGKILL); the store keeps what was written."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    # ---- what the engine reported ----
    @property
    def run_id(self) -> str | None:
        """The stored run's id, as the engine's snapshots (or its summary) carry it."""
        if self._latest is not None and self._latest.run_id:
            return self._latest.run_id
        return self.summary.run_id if self.summary else None

    @property
    def store_path(self) -> str | None:
        return self._store_path

    def latest(self) -> Snapshot | None:
        return self._latest

    def _read(self, events: Connection) -> None:
        try:
            while True:
                try:
                    message = events.recv()
                except (EOFError, OSError):
                    break
                self._dispatch(message)
        finally:
            events.close()
            self._ended()

    def _dispatch(self, message: Published) -> None:
        match message:
            case SnapshotPublished(snapshot):
                self._latest = snapshot
            case StoreOpened(path):
                self._store_path = path
            case RunSummarised(summary):
                self.summary = summary
            case RunFailed(error):
                self.error = error
        for o in self.observers:
            deliver(o, message)

    def _ended(self) -> None:
        proc = self._proc
        assert proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(EXIT_WAIT_S)
        code = proc.poll()
        tail = self._log_tail()
        if self.summary is None and self.error is None:
            how = "is still running" if code is None else f"exited with code {code}"
            said = f" (log {self.log_path}: " + " | ".join(tail) + ")" if tail else " (its log is empty)"
            self._fail(EngineProcessDied(f"the engine process {how} without a result{said}"))
        failed = code != 0 or self.error is not None
        if not failed or not tail:  # keep only a log that may tell what went wrong
            with contextlib.suppress(OSError):
                os.unlink(self.log_path)
        self._done.set()

    def _fail(self, error: BaseException) -> None:
        self._dispatch(RunFailed(error))

    def _log_tail(self) -> list[str]:
        """The last lines of the engine's log that say something (none: an empty or missing log)."""
        try:
            lines = Path(self.log_path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        return [line for line in lines if line.strip()][-LOG_TAIL_LINES:]

    # ---- controls ----
    def submit(self, command: Command) -> None:
        conn = self._commands
        if conn is None or self._done.is_set():
            return
        with self._send_lock, contextlib.suppress(OSError, ValueError):
            conn.send(command)
