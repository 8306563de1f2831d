"""`agentperf-tui run --headless` and `search --headless` as a user runs them (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]


def _cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "agentperf_tui", *args],
        capture_output=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_headless_run_prints_progress_and_a_json_summary(tmp_path: Path) -> None:
    out = _cli(
        "run",
        "--headless",
        "--concurrency",
        "3",
        "--duration",
        "5",
        "--progress-every",
        "1",
        "--store",
        str(tmp_path / "runs.sqlite3"),
        "--telemetry",
        "sim",
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    summary = orjson.loads(out.stdout)
    assert summary["simulated"] is True and summary["status"] == "finished"
    assert summary["requests"]["ok"] > 0
    whole = summary["whole_run"]
    assert whole["ttft_s"]["p95"] > 0 and whole["output_speed_tok_s"]["p25"] > 0
    err = out.stderr.decode()
    assert "SIMULATED" in err and "TTFT p50" in err and "level 1: N=3" in err


def test_the_api_key_comes_from_a_named_variable_never_a_literal(tmp_path: Path) -> None:
    literal = _cli("run", "--headless", "--api-key-env", "sk-live-123", "--duration", "1")
    assert literal.returncode == 2
    assert b"--api-key-env" in literal.stderr and b"NAME of an environment variable" in literal.stderr
    unset = _cli(
        "run",
        "--headless",
        "--endpoint",
        "http://127.0.0.1:9",
        "--api-key-env",
        "AGENTPERF_NO_SUCH_KEY",
        "--duration",
        "1",
        "--store",
        str(tmp_path / "r.sqlite3"),
    )
    assert unset.returncode == 2
    assert b"AGENTPERF_NO_SUCH_KEY is not set" in unset.stderr


def test_a_search_needs_a_tier() -> None:
    out = _cli("search", "--headless")
    assert out.returncode == 2
    assert b"--tier" in out.stderr or b"SLO tier" in out.stderr


def test_bad_trajectory_file_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"format": "agentperf-traj/1", "id": "x", "kind": "tokens"}\n{"i": 0, "new_input_tokens": -5, '
        '"output_tokens": 3}\n'
    )
    out = _cli(
        "run",
        "--headless",
        "--trajectories",
        str(bad),
        "--duration",
        "2",
        "--store",
        str(tmp_path / "r.sqlite3"),
    )
    assert out.returncode == 2
    assert f"{bad}:2".encode() in out.stderr and b"new_input_tokens" in out.stderr
