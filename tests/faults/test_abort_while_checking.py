"""A signal while the endpoint is still being checked (the exact-length probe hangs on a server
that sends headers and then nothing) ends the run at once: exit 4, nothing stored."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from agentperf_tui.cli import exit_codes

from .conftest import StartFaultServer
from .fault_modes import Fault

REPO = Path(__file__).resolve().parents[2]


def test_sigterm_during_the_endpoint_check_exits_at_once(
    start_fault_server: StartFaultServer, tmp_path: Path
) -> None:
    server = start_fault_server(Fault(mode="stall_before_first"))
    store = tmp_path / "runs.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentperf_tui", "search", "--headless", "--endpoint", server.url,
         "--tier", "10/5", "-n", "2", "--store", str(store), "--telemetry", "none"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=dict(os.environ),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while server.stats().seen == 0:  # the probe's first request has arrived and hangs
            assert time.monotonic() < deadline and proc.poll() is None, "no probe request arrived"
            time.sleep(0.05)
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        took = time.monotonic() - t
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.decode()
    assert proc.returncode == exit_codes.ABORTED, text[-2000:]
    assert took < 10, f"the run took {took:.1f} s to end after SIGTERM"
    assert "SIGTERM received while checking the endpoint: nothing was measured or stored" in text
    assert "Traceback" not in text and out == b""
    if store.exists():  # nothing stored: no run row
        with sqlite3.connect(store) as conn:
            assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
