"""The fault server from outside: `FaultControl` talks to a control port over HTTP, `FaultProcess`
runs the server as a process of its own (`python -m tests.faults.fault_server`), so that it lives on
while the process under test is signalled or killed."""

from __future__ import annotations

import contextlib
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx
import orjson

from .fault_ledger import FaultStats, wait_settled

REPO_ROOT = Path(__file__).resolve().parents[2]


class FaultControl:
    """Switch faults and read the accounting of a fault server through its control port; the same
    calls as `FaultServer`'s."""

    def __init__(self, control_url: str) -> None:
        self._http = httpx.Client(base_url=control_url, timeout=10.0)

    def set_fault(self, mode: str = "ok", **params: Any) -> dict[str, Any]:
        """`POST /_fault`; the fault in force as the server reports it. Raises ValueError with the
        server's message when it refuses the fault."""
        r = self._http.post("/_fault", json={"mode": mode, "params": params})
        if r.status_code != 200:
            raise ValueError(r.json()["error"]["message"])
        reply: dict[str, Any] = r.json()
        return reply

    def fault(self) -> dict[str, Any]:
        reply: dict[str, Any] = self._http.get("/_fault").raise_for_status().json()
        return reply

    def stats(self) -> FaultStats:
        return FaultStats.from_json(self._http.get("/_stats").raise_for_status().json())

    def wait_settled(self, timeout: float = 5.0) -> FaultStats:
        return wait_settled(self.stats, timeout)

    def close(self) -> None:
        self._http.close()


class FaultProcess:
    """`python -m tests.faults.fault_server ARGS...` as a child process.

    `start()` returns once it listens (url, port, control_url, pid known). `stop()` sends SIGTERM
    and returns the final stats the server printed; `kill()` sends SIGKILL. Both act on this
    child's PID only."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.port = 0
        self.control_url = ""
        self.control_port = 0
        self.pid = 0
        self.stderr: IO[str] | None = None
        self._control: FaultControl | None = None

    @property
    def control(self) -> FaultControl:
        if self._control is None:
            raise RuntimeError("the fault server process is not started")
        return self._control

    def start(self, timeout: float = 20.0) -> FaultProcess:
        cmd = [sys.executable, "-m", "tests.faults.fault_server", *self.args]
        # stderr to a file (a pipe nobody reads would block the server once full); it lives as
        # long as the process and is closed by stop() or kill()
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.proc = proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=self.stderr,
                                            text=True)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        if not line:
            err = self.stderr_text()
            self.kill()
            raise RuntimeError(f"the fault server did not start within {timeout} s: {err}")
        info = orjson.loads(line)
        self.url, self.port = info["url"], info["port"]
        self.control_url, self.control_port = info["control_url"], info["control_port"]
        self.pid = info["pid"]
        self._control = FaultControl(self.control_url)
        return self

    def stderr_text(self) -> str:
        """What the server wrote to stderr so far."""
        if self.stderr is None or self.stderr.closed:
            return ""
        self.stderr.seek(0)
        return self.stderr.read().strip()

    def stop(self, timeout: float = 10.0) -> FaultStats | None:
        """SIGTERM, then wait; the final stats it printed (None if it had already ended)."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is not None:
            self._release()
            return None
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._release()
        lines = out.strip().splitlines()
        return FaultStats.from_json(orjson.loads(lines[-1])) if lines else None

    def kill(self) -> None:
        """SIGKILL (if still running) and wait for it."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=5)
        self._release()

    def _release(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.stderr is not None:
            self.stderr.close()

    def __enter__(self) -> FaultProcess:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
