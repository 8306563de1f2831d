"""The headless face of the engine: progress lines on stderr, the final JSON summary on stdout."""

from __future__ import annotations

import math
import signal
import sys
import threading
from typing import Any, TextIO

from agentperf_tui.core.engine.config import ConfigError, RunConfig
from agentperf_tui.core.engine.handle import EngineHandle
from agentperf_tui.core.engine.protocol import Abort
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.views import Event, Snapshot


def _f(x: float | None, fmt: str = ".2f", unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{x:{fmt}}{unit}"


class HeadlessPrinter:
    """Prints one progress line every `every_s` seconds and every event as it happens."""

    def __init__(self, out: TextIO = sys.stderr, every_s: float = 5.0) -> None:
        self.out = out
        self.every_s = every_s
        self._last = -1e9
        self._lock = threading.Lock()

    def on_snapshot(self, s: Snapshot) -> None:
        if s.t - self._last < self.every_s and not s.finished:
            return
        self._last = s.t
        sim = " SIMULATED" if s.simulated_endpoint else ""
        power = ""
        if s.power is not None and s.power.total_w is not None:
            power = f" power {s.power.total_w:.0f} W" + (" (sim)" if s.power.simulated else "")
        line = (
            f"[{s.t:7.1f}s{sim}] N={s.target_n} agents={s.agents} (wait {s.agents_waiting}, stream "
            f"{s.agents_streaming}, tool {s.agents_in_tool}) ok={s.requests_ok} failed={s.requests_failed} | "
            f"TTFT p50 {_f(s.ttft.p50)} p95 {_f(s.ttft.p95)} p99 {_f(s.ttft.p99)} s | speed P25 "
            f"{_f(s.speed_p25, '.1f')} P50 {_f(s.speed_p50, '.1f')} tok/s | {s.throughput_tok_s:.0f} tok/s | "
            f"lag p99 {_f(s.client_lag_p99 * 1e3, '.1f')} ms"
            f"{power}"
        )
        with self._lock:
            print(line, file=self.out, flush=True)

    def on_event(self, e: Event) -> None:
        with self._lock:
            print(f"[{e.t:7.1f}s] {e.kind}: {e.message}", file=self.out, flush=True)

    def on_finish(self, summary: RunSummary) -> None:
        return None


def run_headless(config: RunConfig, *, progress_every_s: float = 5.0) -> int:
    """Run to the end; print the summary JSON on stdout. Ctrl+C ends the run cleanly (measured data kept)."""
    printer = HeadlessPrinter(every_s=progress_every_s)
    handle = EngineHandle(config, [printer])
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum: int, frame: Any) -> None:
        print("interrupted: stopping agents, saving what was measured", file=sys.stderr, flush=True)
        handle.submit(Abort("interrupted (SIGINT)"))

    signal.signal(signal.SIGINT, on_sigint)
    try:
        handle.start()
        while not handle.join(timeout=0.5):
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
    if handle.error is not None:
        e = handle.error
        kind = "configuration error" if isinstance(e, ConfigError | ValueError) else "run failed"
        print(f"agentperf-tui: {kind}: {e}", file=sys.stderr)
        return 2
    summary = handle.summary
    assert summary is not None
    sys.stdout.buffer.write(summary.to_json(indent=True) + b"\n")
    sys.stdout.flush()
    return 0 if summary.status == "finished" else 1
