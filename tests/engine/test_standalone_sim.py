"""A run against a standalone `agentperf-tui sim` server (a real subprocess on 127.0.0.1) is
labelled simulated everywhere: the endpoint check, the summary, the store, the runs list."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentperf_tui.cli import main as cli_main
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.handle import EngineHandle
from agentperf_tui.core.preflight import check_config
from agentperf_tui.core.store import list_runs, load_run

REPO = Path(__file__).resolve().parents[2]
QUICK = REPO / "trajectories" / "quick"


@pytest.fixture(scope="module")
def sim_server() -> Iterator[str]:
    cmd = [sys.executable, "-m", "agentperf_tui", "sim", "--port", "0", "--sim-model", "llama-3.1-8b"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
            url = m.group(1) if m else None
        assert url, "the simulator did not say where it listens"
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_standalone_simulator_is_labelled_simulated_everywhere(
    sim_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "runs.sqlite3"
    cfg = RunConfig(
        endpoint=sim_server, trajectories=str(QUICK), concurrency=2, duration_s=3.0, telemetry="none",
        store=str(store), gpu_count=1,
    )  # fmt: skip
    rows = {row.what: row for row in check_config(cfg).rows}
    assert rows["server"].found == "SIMULATED (the server says so)" and rows["server"].status == "warn"

    handle = EngineHandle(cfg)
    handle.start()
    assert handle.join(60) and handle.error is None
    summary = handle.summary
    assert summary is not None and summary.simulated and summary.simulated_by == "the server says so"
    assert summary.simulator is not None and "llama-3.1-8b" in summary.simulator
    assert "simulated" in summary.simulator

    (info,) = list_runs(store)
    assert info.simulated and info.simulated_by == "the server says so"
    assert info.endpoint_label == sim_server, "a standalone server keeps its address"
    assert load_run(store, info.id).summary.simulated
    assert cli_main(["runs", "list", "--store", str(store)]) == 0
    listed = capsys.readouterr().out
    assert f"{sim_server} (SIMULATED)" in listed
    assert cli_main(["runs", "show", "latest", "--store", str(store)]) == 0
    shown = capsys.readouterr().out
    assert "SIMULATED (llama-3.1-8b" in shown
    assert "SIMULATED endpoint" in shown, "the summary's first note says so"
