"""Run the headless CLI (the console's engine) against a real server and read back what it measured."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from agentperf_tui.core.client.request import CHAT_PATH, chat_body
from agentperf_tui.core.client.sse import parse_stream
from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.store.models import RunData
from agentperf_tui.core.store.reader import load_run
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.workload.trajectory import (
    Message,
    TextTurn,
    TokenTurn,
    TrajectoryHeader,
    write_trajectory,
)


def scrape(metrics_url: str) -> dict[str, float]:
    """Every sample of a /metrics page, summed over label sets (`name` -> value)."""
    out: dict[str, float] = {}
    text = httpx.get(metrics_url, timeout=10).text
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[s.name] = out.get(s.name, 0.0) + float(s.value)
    return out


def delta(after: dict[str, float], before: dict[str, float], name: str) -> float:
    assert name in after, f"{name} not in the server's /metrics"
    return after[name] - before.get(name, 0.0)


@dataclass(slots=True)
class CliRun:
    summary: RunSummary
    data: RunData
    stderr: str
    before: dict[str, float]
    after: dict[str, float]

    @property
    def ok_rows(self) -> np.ndarray:
        return np.asarray(self.data.requests.ok, dtype=bool)


def agentperf(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "agentperf_tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        check=False,
    )


def run_cli(
    command: str,
    base_url: str,
    model: str,
    trajectories: Path,
    store: Path,
    extra: list[str],
    *,
    timeout_s: float = 400.0,
) -> CliRun:
    """`agentperf-tui <command> --headless ...`, with the server's /metrics scraped just before and after."""
    before = scrape(base_url + "/metrics")
    done = agentperf(
        [
            command,
            "--headless",
            "--endpoint",
            base_url,
            "--model",
            model,
            "--trajectories",
            str(trajectories),
            "--telemetry",
            "none",
            "--store",
            str(store),
            "--progress-every",
            "5",
            *extra,
        ],
        timeout_s,
    )
    after = scrape(base_url + "/metrics")
    assert done.returncode == 0, (
        f"exit {done.returncode}\nstderr:\n{done.stderr[-4000:]}\nstdout:\n{done.stdout[-2000:]}"
    )
    summary = RunSummary.model_validate_json(done.stdout)
    data = load_run(store, summary.run_id)
    return CliRun(summary, data, done.stderr, before, after)


async def _decode_speed(base_url: str, model: str, tokens: int) -> float:
    body = chat_body(model, [{"role": "user", "content": "run the tests"}], max_tokens=tokens)
    async with StreamClient(base_url, read_timeout=120) as client:
        raw = await client.stream(CHAT_PATH, body, 0.0, time.perf_counter)
    p = parse_stream(raw)
    assert p.ok and p.t_first_token is not None and p.t_last_token is not None, p.error
    return (tokens - 1) / max(1e-3, p.t_last_token - p.t_first_token)


def run_seconds_for(base_url: str, model: str, tokens_per_agent: int, agents: int) -> float:
    """How long a fixed-N run must last for each agent to generate `tokens_per_agent`, from the
    server's single-stream decode speed now (this machine's speed varies with its other load)."""
    speed = asyncio.run(_decode_speed(base_url, model, 64))
    per_stream = speed / max(1.0, agents * 0.75)
    return min(120.0, max(20.0, 1.5 * tokens_per_agent / per_stream + 5.0))


def write_token_trajectory(
    path: Path, traj_id: str, turns: int, first_input: int, new_input: int, output: int, tool_delay_s: float
) -> None:
    """Token-only trajectory: each turn's prompt is the whole previous context plus `new_input`."""
    out: list[TokenTurn] = []
    context = 0
    for i in range(turns):
        fresh = first_input if i == 0 else new_input
        out.append(
            TokenTurn(
                i=i,
                new_input_tokens=fresh,
                cached_prefix_tokens=context,
                output_tokens=output,
                tool_delay_s=tool_delay_s,
            )
        )
        context += fresh + output
    write_trajectory(path, TrajectoryHeader(format="agentperf-traj/1", id=traj_id, kind="tokens"), out)


def write_short_text_trajectory(
    path: Path, traj_id: str, turns: int, output: int, tool_delay_s: float, first_repeat: int = 3
) -> None:
    """A small text trajectory (a user asks, the assistant answers briefly, the user asks again);
    the first message repeats its request `first_repeat` times."""
    ask = "please run the tests again, read the log and fix the path in the config file. "
    out: list[TextTurn] = []
    for i in range(turns):
        append = [Message(role="user", content=ask * (first_repeat if i == 0 else 1))]
        if i:
            append.insert(0, Message(role="assistant", content="done: the build passed on the second step"))
        out.append(TextTurn(i=i, append=append, output_tokens=output, tool_delay_s=tool_delay_s))
    write_trajectory(path, TrajectoryHeader(format="agentperf-traj/1", id=traj_id, kind="text"), out)
