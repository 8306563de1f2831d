"""agentperf-tui as a user runs it (the headless CLI, a real subprocess) against the fault server, and
what it left behind: its exit status, its summary, and the rows of its run store read back with
plain SQL, so that a test can hold the tool's books against the server's.

    run = run_tool("search", "--headless", "--sweep", "4", *quick_run(server.url, store, trajectories))
    stored, shown = audit(run, server.wait_settled(), store)   # store sound, books balanced, runs show
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import pty
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from agentperf_tui.cli import main

from .fault_ledger import FaultStats

REPO_ROOT = Path(__file__).resolve().parents[2]

TIER = "10/2"
"""P25 speed >= 10 tok/s, P95 TTFT <= 2 s: an honest fault server meets it by far."""


def write_trajectories(
    folder: Path, *, count: int = 4, turns: int = 4, output_tokens: int = 12, tool_delay_s: float = 0.05
) -> Path:
    """A small token-only trajectory set: short replies and short tool delays, so that a level sees
    many requests per second. Returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        lines = [{"format": "agentperf-traj/1", "id": f"fault-{k}", "kind": "tokens"}]
        for i in range(turns):
            turn: dict[str, Any] = {"i": i, "new_input_tokens": 200 if i == 0 else 20,
                                    "output_tokens": output_tokens + k, "tool_delay_s": tool_delay_s}
            if i:
                turn["cached_prefix_tokens"] = 200 + (i - 1) * (20 + output_tokens + k)
            lines.append(turn)
        (folder / f"fault-{k}.jsonl").write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n")
    return folder


def quick_run(
    url: str, store: Path, trajectories: Path, *, tier: str = TIER, stall_s: float = 1.0
) -> list[str]:
    """The flags of a short run against `url`: no warm-up, a 1 s shortest window, no telemetry."""
    return [
        "--endpoint", url, "--trajectories", str(trajectories), "--store", str(store),
        "--tier", tier, "--warmup", "0", "--fast-min", "1",
        "--stall-timeout", str(stall_s), "--telemetry", "none", "--no-server-metrics",
        "--progress-every", "1", "--gpus", "1",
    ]  # fmt: skip


@dataclass(frozen=True)
class ToolRun:
    """A finished `agentperf-tui` process."""

    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def summary(self) -> dict[str, Any]:
        """The JSON summary it printed on stdout."""
        try:
            obj: dict[str, Any] = orjson.loads(self.stdout)
        except orjson.JSONDecodeError as exc:
            raise AssertionError(f"no JSON summary on stdout ({exc}); {self.explain()}") from exc
        return obj

    def explain(self) -> str:
        return f"exit {self.code} after {self.seconds:.1f} s; stderr:\n{self.stderr[-4000:]}"


def tool_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "agentperf_tui", *args]


def run_tool(*args: str, timeout: float = 60.0) -> ToolRun:
    """Run `agentperf-tui ARGS...` to its end (killed, and the test failed, after `timeout`)."""
    t0 = time.monotonic()
    try:
        out = subprocess.run(tool_command(*args), capture_output=True, timeout=timeout, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        raise AssertionError(f"agentperf-tui {' '.join(args[:2])} did not end within {timeout} s:\n"
                             f"{err[-3000:]}") from None
    return ToolRun(out.returncode, out.stdout.decode(errors="replace"), out.stderr.decode(errors="replace"),
                   time.monotonic() - t0)


class ToolProcess:
    """`agentperf-tui ARGS...` running in the background (for signals): stdout and stderr go to
    files, read when it has ended. Only this child is ever signalled, by its PID."""

    def __init__(self, *args: str) -> None:
        self._out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(tool_command(*args), cwd=REPO_ROOT, stdout=self._out, stderr=self._err)

    def stderr_so_far(self) -> str:
        fd = self._err.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def wait_for(self, text: str, timeout: float) -> None:
        """Wait until stderr holds `text` (the process still running)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr_so_far():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"ended (exit {self.proc.returncode}) before saying {text!r}:\n"
                                     f"{self.stderr_so_far()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"did not say {text!r} within {timeout} s:\n{self.stderr_so_far()[-3000:]}")

    def signal(self, sig: signal.Signals) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> ToolRun:
        """Wait for the end (SIGKILL and fail the test after `timeout`)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"did not end within {timeout} s:\n{self.stderr_so_far()[-3000:]}") from None
        return self._result()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def _result(self) -> ToolRun:
        self._out.seek(0)
        self._err.seek(0)
        run = ToolRun(self.proc.returncode, self._out.read().decode(errors="replace"),
                      self._err.read().decode(errors="replace"), time.monotonic() - self.t0)
        self._out.close()
        self._err.close()
        return run


class ConsoleProcess:
    """`agentperf-tui ARGS...` (the console) on a pseudo-terminal of 100x30, its screen output
    drained by a thread so that it never blocks on a full terminal."""

    def __init__(self, *args: str) -> None:
        self._master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
        self.proc = subprocess.Popen(tool_command(*args), cwd=REPO_ROOT, stdin=slave, stdout=slave,
                                     stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self._screen = bytearray()
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:
                return
            if not data:
                return
            self._screen += data

    def screen(self) -> str:
        """Everything drawn so far, escape codes and all."""
        return bytes(self._screen).decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._master)
        self._drain.join(timeout=5)


@dataclass(frozen=True)
class StoredRun:
    """One run as its store holds it, read with plain SQL."""

    run_id: str
    status: str
    summary: dict[str, Any] | None
    ok: int
    failed: int
    """Failed rows, those open at the end not included."""
    open_at_end: int
    failures: Counter[str]
    """Failed and open-at-end rows by failure kind."""
    errors: Counter[str]
    """Error texts of the failed rows."""
    levels: tuple[dict[str, Any], ...]
    """Each stored level's whole record."""

    @property
    def rows(self) -> int:
        return self.ok + self.failed + self.open_at_end


def _connect(store: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)


def stored_run(store: Path, run_id: str | None = None) -> StoredRun:
    """The run `run_id` (default: the store's only run) as stored."""
    conn = _connect(store)
    try:
        runs = conn.execute("SELECT pk, id, status, summary FROM runs ORDER BY pk").fetchall()
        match = [r for r in runs if run_id is None or r[1] == run_id]
        assert len(match) == 1, f"expected one run {run_id or ''} in {store}, found {[r[1] for r in runs]}"
        pk, rid, status, summary = match[0]
        rows = conn.execute("SELECT ok, failure, error FROM requests WHERE run_pk = ?", (pk,)).fetchall()
        records = conn.execute("SELECT record FROM levels WHERE run_pk = ? ORDER BY idx", (pk,)).fetchall()
    finally:
        conn.close()
    failures: Counter[str] = Counter(str(f) for ok, f, _ in rows if not ok)
    return StoredRun(
        run_id=rid, status=status, summary=orjson.loads(summary) if summary else None,
        ok=sum(1 for ok, _, _ in rows if ok),
        failed=sum(1 for ok, f, _ in rows if not ok and f != "open_at_end"),
        open_at_end=failures["open_at_end"],
        failures=failures,
        errors=Counter(str(e) for ok, f, e in rows if not ok and f != "open_at_end"),
        levels=tuple(orjson.loads(r[0]) for r in records if r[0]),
    )  # fmt: skip


def integrity(store: Path) -> str:
    """`PRAGMA integrity_check` of the store ("ok" when sound)."""
    conn = _connect(store)
    try:
        return "; ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall())
    finally:
        conn.close()


def assert_conserved(stats: FaultStats, run: StoredRun, *, unreached: bool = False) -> FaultStats:
    """Every request the server saw of the run (the probe's and the calibration's aside) is one
    stored row, and every reply it completed is stored ok: nothing dropped, nothing invented.

    `unreached`: the server stopped listening during the run and dropped its connections (RST), so
    that some requests never reached it: each is a stored "connect" failure the server cannot
    count, and only those may be missing from its books. And a reply it had written in full just
    before dropping the connection may never have been read: the RST discards what the client's
    socket still held, and the client saw a reset; only those may be completed and not stored ok."""
    own = stats.excluding_preflight()
    if unreached:
        assert run.rows - run.failures["connect"] <= own.seen <= run.rows, (
            f"server saw {own.seen} requests of the run; the store holds {run.rows} rows, "
            f"{run.failures['connect']} of them failed to connect ({run.failures})"
        )
        assert run.ok <= own.completed <= run.ok + run.failures["reset"], (
            f"server completed {own.completed} replies; the store holds {run.ok} ok rows ({run.failures})"
        )
        return own
    assert own.seen == run.rows, (
        f"server saw {own.seen} requests of the run (completed {own.completed}, failed {own.failed}, "
        f"client closed {own.client_closed}); the store holds {run.rows} rows ({run.ok} ok, "
        f"{run.failed} failed, {run.open_at_end} open at the end)"
    )
    assert own.completed == run.ok, (
        f"server completed {own.completed} replies; the store holds {run.ok} ok rows ({run.failures})"
    )
    return own


def assert_struck(run: StoredRun, kind: str, struck: int) -> None:
    """The `struck` requests the server failed with one fault are stored as failures of `kind`,
    each, but those the run's end overtook (the server had failed them, the client had not read it
    yet): they are stored as open at the end."""
    assert struck > 0
    assert run.failures[kind] <= struck <= run.failures[kind] + run.open_at_end, (
        f"server failed {struck} requests with the fault; the store holds {run.failures}"
    )


def cli(*args: str) -> ToolRun:
    """`agentperf-tui ARGS...` in this process (for commands that only read: no process to start)."""
    out, err = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return ToolRun(code, out.getvalue(), err.getvalue(), time.monotonic() - t0)


def runs_show(store: Path, run_id: str) -> ToolRun:
    return cli("runs", "show", run_id, "--store", str(store))


def passed_levels(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [lv for lv in summary["levels"] if lv.get("passed")]


def audit(run: ToolRun, stats: FaultStats, store: Path, *, unreached: bool = False) -> tuple[StoredRun, str]:
    """What every fault test checks after the tool has ended: the store is sound and holds the
    run it printed, the books balance with the server's, and `runs show` reads the run back (its
    text is returned with the stored run)."""
    assert integrity(store) == "ok"
    printed = run.summary
    stored = stored_run(store, printed["run_id"])
    assert stored.status == printed["status"]
    counts = printed["requests"]
    printed_counts = (counts["ok"], counts["failed"], counts["open_at_end"])
    assert printed_counts == (stored.ok, stored.failed, stored.open_at_end)
    assert_conserved(stats, stored, unreached=unreached)
    shown = runs_show(store, stored.run_id)
    assert shown.code == 0, shown.explain()
    assert f"requests    {stored.rows:,}" in shown.stdout, shown.stdout
    return stored, shown.stdout
