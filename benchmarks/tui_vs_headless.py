"""Does the console disturb the measurement? The same fixed-N run, headless and with the TUI open.

Both runs hit one simulator, started once as a process of its own (`agentperf-tui sim`, real HTTP
on 127.0.0.1), one after the other, with the same seed and trajectories. The headless run is the
engine alone in this process; the console run is the console drawing its dashboard here (160x48,
Textual's headless driver) the whole time, with its engine in a child process. Prints TTFT and
output-speed percentiles, client lag and the ratios TUI / headless; repeat with --repeats to see
the run-to-run noise the ratios sit in.

    python benchmarks/tui_vs_headless.py --agents 24 --duration 40 --repeats 2
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.handle import EngineHandle
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.tui.app import make_app
from agentperf_tui.tui.screens.result import ResultScreen

FIGURES = (
    ("TTFT p50 ms", ("ttft_s", "p50"), 1e3),
    ("TTFT p95 ms", ("ttft_s", "p95"), 1e3),
    ("TTFT p99 ms", ("ttft_s", "p99"), 1e3),
    ("speed P25 tok/s", ("output_speed_tok_s", "p25"), 1.0),
    ("speed P50 tok/s", ("output_speed_tok_s", "p50"), 1.0),
    ("client lag p99 ms", ("client_lag_s", "p99"), 1e3),
)


def headless(cfg: RunConfig) -> RunSummary:
    h = EngineHandle(cfg, [])
    h.start()
    h.join()
    if h.error is not None:
        raise h.error
    assert h.summary is not None
    return h.summary


async def with_console(cfg: RunConfig) -> RunSummary:
    app = make_app(cfg, autostart=True)
    async with app.run_test(size=(160, 48)) as pilot:
        deadline = time.monotonic() + (cfg.duration_s or 60) + 120
        while not isinstance(app.screen, ResultScreen):
            if time.monotonic() > deadline:
                raise TimeoutError("the console run did not reach its result screen")
            await pilot.pause(0.25)
        await pilot.pause(0.5)  # let the result screen finish mounting before the app closes
        summary = app.screen.summary
    return summary


@contextmanager
def simulator_process() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentperf_tui", "sim", "--port", str(port), "--seed", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _serving(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the simulator on port {port} did not come up")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()  # the simulator this benchmark started
        proc.wait(10)


def _serving(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/models", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def figure(summary: RunSummary, path: tuple[str, str], scale: float) -> float:
    """A whole-run figure of the summary (every request since the start, the same on both sides)."""
    group = summary.whole_run.model_dump()[path[0]]
    return float(group[path[1]]) * scale


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=24)
    ap.add_argument("--duration", type=float, default=40.0)
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, simulator_process() as url:
        cfg = RunConfig(
            endpoint=url,
            concurrency=a.agents,
            duration_s=a.duration,
            telemetry="none",
            store=str(Path(tmp) / "runs.sqlite3"),
            seed=7,
        )
        rows: list[tuple[str, dict[str, Any]]] = []
        for r in range(a.repeats):
            rows.append((f"headless #{r + 1}", headless(cfg)))
            rows.append((f"console  #{r + 1}", asyncio.run(with_console(cfg))))
    print(
        f"{a.agents} agents, {a.duration:.0f} s per run, simulator in its own process, {a.repeats} repeat(s)"
    )
    print(f"{'run':14}" + "".join(f"{name:>19}" for name, _, _ in FIGURES) + f"{'requests':>10}")
    for label, s in rows:
        vals = "".join(f"{figure(s, p, k):19.1f}" for _, p, k in FIGURES)
        print(f"{label:14}{vals}{s.requests.ok + s.requests.failed:10d}")
    head = [s for label, s in rows if label.startswith("headless")]
    tui = [s for label, s in rows if label.startswith("console")]

    def mean(runs: list[dict[str, Any]], path: tuple[str, str], scale: float) -> float:
        return sum(figure(s, path, scale) for s in runs) / len(runs)

    ratios = "".join(f"{mean(tui, p, k) / mean(head, p, k):19.2f}" for _, p, k in FIGURES)
    print(f"{'TUI/headless':14}{ratios}")


if __name__ == "__main__":
    main()
