"""`agentperf-tui sim`: the standalone simulated server and its profile listing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from agentperf_tui.cli import main


def test_list_shows_every_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("h100-sxm", "gb300-nvl72", "deepseek-v4-pro", "gpt-oss-120b", "llama-3.3-70b"):
        assert name in out


def test_unknown_profile_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--sim-model", "no-such-model"]) == 2
    err = capsys.readouterr().err
    assert "no-such-model" in err and "llama-3.3-70b" in err


def test_standalone_server_serves_and_stops_on_ctrl_c() -> None:
    cmd = [sys.executable, "-m", "agentperf_tui", "sim", "--port", "0", "--sim-model", "llama-3.1-8b"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        url = None
        lines = []
        deadline = time.time() + 60
        while time.time() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
            if m and "Running on" in line:
                url = m.group(1)
        assert url, "".join(lines)
        assert "SIMULATED" in "".join(lines)
        r = httpx.get(url + "/v1/models", timeout=10)
        assert r.json()["data"][0]["id"] == "sim-llama-3.1-8b"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
