"""The headless face of the engine: progress lines on stderr, the final JSON summary on stdout."""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
from typing import Any, TextIO

from agentperf_tui.cli import exit_codes
from agentperf_tui.core import fmt
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.engine import AbortedBeforeStart
from agentperf_tui.core.engine.handle import EngineHandle
from agentperf_tui.core.engine.protocol import Abort
from agentperf_tui.core.summary.headline import headlines, summary_notes, tier_line
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.views import Event, Snapshot


class HeadlessPrinter:
    """Prints one progress line every `every_s` seconds and every event as it happens."""

    def __init__(self, out: TextIO = sys.stderr, every_s: float = 5.0) -> None:
        self.out = out
        self.every_s = every_s
        self._last = -1e9
        self._lock = threading.Lock()
        self.errors: list[Event] = []
        """Error events, held back: the run's end says each once (see run_headless)."""

    def on_snapshot(self, s: Snapshot) -> None:
        if s.t - self._last < self.every_s and not s.finished:
            return
        self._last = s.t
        sim = " SIMULATED" if s.simulated_endpoint else ""
        power = ""
        if s.power is not None and s.power.total_w is not None:
            power = f" | power {fmt.watts(s.power.total_w)}" + (" (sim)" if s.power.simulated else "")
        search = s.search
        floor = search.speed_floor if search is not None and math.isfinite(search.speed_floor) else None
        limit = search.ttft_limit if search is not None and math.isfinite(search.ttft_limit) else None
        line = (
            f"[{s.t:7.1f}s{sim}] N={s.target_n} agents={s.agents} (in tool {s.agents_in_tool}) "
            f"in flight={s.requests_in_flight} (wait {s.requests_waiting}, stream {s.requests_streaming}) "
            f"ok={fmt.count(s.requests_ok)} "
            f"failed={fmt.count(s.requests_failed)} | TTFT p50 {fmt.seconds(s.ttft.p50)} "
            f"p95 {fmt.seconds(s.ttft.p95, limit=limit)} p99 {fmt.seconds(s.ttft.p99)} | speed P25 "
            f"{fmt.speed(s.speed_p25, floor=floor, unit=False)} P50 {fmt.speed(s.speed_p50)} | "
            f"{fmt.rate(s.throughput_tok_s)} | lag p99 {fmt.seconds(s.client_lag_p99)}"
            f"{power}"
        )
        with self._lock:
            print(line, file=self.out, flush=True)

    def on_event(self, e: Event) -> None:
        if e.kind == "error":
            self.errors.append(e)
            return
        self.say(e)

    def say(self, e: Event) -> None:
        with self._lock:
            print(f"[{e.t:7.1f}s] {e.kind}: {e.message}", file=self.out, flush=True)

    def on_finish(self, summary: RunSummary) -> None:
        return None


def run_headless(config: RunConfig, *, progress_every_s: float = 5.0) -> int:
    """Run to the end; print the summary JSON on stdout and what to know about it on stderr.

    SIGINT, SIGTERM and SIGHUP end the run cleanly (agents stop, what was measured is stored and
    printed, status "aborted"); a second one exits at once, the store left consistent."""
    printer = HeadlessPrinter(every_s=progress_every_s)
    handle = EngineHandle(config, [printer])
    signals = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.getsignal(s) for s in signals}
    received: list[str] = []

    def on_signal(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        received.append(name)
        if len(received) == 1:
            print(f"{name}: stopping agents, saving what was measured", file=sys.stderr, flush=True)
            handle.submit(Abort(f"{name} received"))
            return
        print(f"{name} again: exiting now; the store keeps what was written", file=sys.stderr, flush=True)
        handle.emergency_stop(f"{received[0]} received, then {name}")
        os._exit(exit_codes.ABORTED)

    for s in signals:
        signal.signal(s, on_signal)
    try:
        handle.start()
        while not handle.join(timeout=0.5):
            pass
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if handle.error is None:
        for held in printer.errors:  # an error the run survived: said here, once
            printer.say(held)
    if handle.error is not None:
        e = handle.error
        if isinstance(e, AbortedBeforeStart):
            print(f"agentperf-tui: aborted: {e}", file=sys.stderr)
            return exit_codes.ABORTED
        code = exit_codes.for_error(e)
        what = "configuration error" if code == exit_codes.CONFIG_ERROR else "run failed"
        print(f"agentperf-tui: {what}: {e}", file=sys.stderr)
        return code
    summary = handle.summary
    assert summary is not None
    try:
        sys.stdout.buffer.write(summary.to_json(indent=True) + b"\n")
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    for head in headlines(summary):
        if head.result is not None and head.result.tier is not None:
            print(f"result: {tier_line(head)}", file=sys.stderr)
    for note in summary_notes(summary):
        print(f"note: {note}", file=sys.stderr)
    code = exit_codes.exit_code(summary)
    if code == exit_codes.NOT_TRUSTWORTHY:
        for reason in exit_codes.untrustworthy(summary):
            print(f"not trustworthy as it is: {reason}", file=sys.stderr)
    return code
