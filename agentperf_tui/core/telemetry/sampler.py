"""Samples every telemetry source in threads of its own and answers power questions about the run.

One daemon thread per source (a stalled exporter never delays a local NVML read, and nothing
here ever runs on the engine's or the UI's event loop). Readings go to a bounded numpy ring per
GPU for window energy, to a latest-reading table for the live view, and to a pending list the
run store drains. All public methods are thread-safe and cheap except `window_energy`, which
copies the window's readings (milliseconds for hours of 2 Hz readings).

A source never brings the run down: a failing `open` is retried every `reopen_s`; a failing
`sample` turns the source's status to "unavailable: reason" and it is asked again next tick
(and re-opened after failing for `reopen_s`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agentperf_tui.core.telemetry.base import GpuSample, SourceStatus, TelemetrySource, TelemetryUnavailable
from agentperf_tui.core.telemetry.energy import NO_WINDOW, GpuWindow, best_window
from agentperf_tui.core.telemetry.ring import GpuRing
from agentperf_tui.core.telemetry.ticker import Ticker
from agentperf_tui.core.views import PowerView

log = logging.getLogger(__name__)

NO_SOURCE_NOTE = "no power telemetry source configured (power: none)"


@dataclass(frozen=True, slots=True)
class WindowEnergy:
    """GPU energy over one window (a search level's measured window), all GPUs together."""

    t0: float
    t1: float
    energy_j: float | None
    mean_power_w: float | None
    """energy_j / (t1 - t0): the figure agents per megawatt divides by."""
    method: str
    """"counter" when every GPU used its energy counter, "integrated" when any GPU's power
    readings were integrated, "none" when there is no figure."""
    gpus: tuple[str, ...]
    simulated: bool
    note: str | None
    """Why the figure is missing, or what to know about it (partial coverage, counter resets)."""
    coverage: float = 0.0
    """Smallest fraction of the window covered by any GPU's readings (the rest is extrapolated)."""
    per_gpu_j: dict[str, float] = field(default_factory=dict)
    per_gpu_method: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _SourceState:
    index: int
    source: TelemetrySource
    status: SourceStatus
    opened: bool = False
    open_note: str | None = None
    last_open_try: float = -math.inf
    failing_since: float | None = None
    ticker: Ticker | None = None


@dataclass(slots=True)
class _Accumulator:
    """Energy since the sampler started, updated reading by reading (cheap for the live view)."""

    energy_j: float = 0.0
    last_t: float | None = None
    last_p: float | None = None
    last_e: float | None = None

    def add(self, t: float, p: float | None, e: float | None, max_gap_s: float) -> None:
        if self.last_t is not None and t > self.last_t:
            dt = t - self.last_t
            if e is not None and self.last_e is not None:
                d = e - self.last_e
                if d < 0:  # counter reset
                    both_p = p is not None and self.last_p is not None
                    d = (p + self.last_p) * 0.5 * dt if both_p else e  # type: ignore[operator]
                self.energy_j += d
            elif p is not None and self.last_p is not None and dt <= max_gap_s:
                self.energy_j += (p + self.last_p) * 0.5 * dt
        self.last_t = t
        self.last_p = p
        if e is not None:
            self.last_e = e
        elif p is not None:
            self.last_e = None


class TelemetrySampler:
    def __init__(
        self,
        sources: Sequence[TelemetrySource],
        *,
        interval_s: float = 0.5,
        clock: Callable[[], float],
        retain_s: float = 12 * 3600.0,
        reopen_s: float = 10.0,
        max_pending: int = 200_000,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        self.interval_s = interval_s
        self.clock = clock
        self.reopen_s = reopen_s
        self.max_gap_s = max(5 * interval_s, 5.0)
        """A longer gap between power readings is not integrated across."""
        self.stale_after_s = max(4 * interval_s, 6.0)
        """An older latest reading is not shown as current power."""
        self._capacity = max(int(retain_s / interval_s) + 16, 64)
        self._lock = threading.Lock()
        self._states = [
            _SourceState(
                i,
                src,
                SourceStatus(src.name, available=False, reason="not started", simulated=src.simulated),
            )
            for i, src in enumerate(sources)
        ]
        self._rings: dict[str, GpuRing] = {}
        self._latest: dict[str, GpuSample] = {}
        self._acc: dict[str, _Accumulator] = {}
        self._key_of: dict[tuple[int, str], str] = {}
        self._source_of: dict[str, int] = {}
        self._pending: deque[GpuSample] = deque(maxlen=max_pending)
        self._pending_dropped = 0
        self._running = False

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._running:
            raise RuntimeError("telemetry sampler already started")
        self._running = True
        for st in self._states:
            st.ticker = Ticker(
                f"telemetry {st.source.name}",
                self.interval_s,
                tick=functools.partial(self._tick, st),
                on_exit=functools.partial(self._close, st),
            )
            st.ticker.start()

    def stop(self) -> None:
        for st in self._states:
            if st.ticker is not None:
                st.ticker.stop()
        self._running = False

    def poll_once(self) -> None:
        """Read every source once in the calling thread (tools and tests; blocks on slow sources).

        Not for use while the sampler's own threads run.
        """
        for st in self._states:
            self._tick(st)

    # ---- sampling (source threads) ---------------------------------------------------------

    def _set_status(self, st: _SourceState, status: SourceStatus) -> None:
        with self._lock:
            st.status = status

    def _tick(self, st: _SourceState) -> None:
        now = time.monotonic()
        if not st.opened:
            if now - st.last_open_try < self.reopen_s:
                return
            st.last_open_try = now
            try:
                status = st.source.open()
            except Exception as exc:  # a source must not raise from open(); treat it as unavailable
                log.exception("telemetry %s: open raised", st.source.name)
                status = SourceStatus(st.source.name, False, f"{type(exc).__name__}: {exc}")
            status = dataclasses.replace(status, simulated=st.source.simulated)
            st.opened = status.available
            st.open_note = status.reason if status.available else None
            st.failing_since = None
            self._set_status(st, status)
            if not st.opened:
                return
        t_before = self.clock()
        try:
            samples = st.source.sample(t_before)
        except Exception as exc:
            if not isinstance(exc, TelemetryUnavailable):
                log.exception("telemetry %s: sample raised", st.source.name)
            reason = str(exc) if isinstance(exc, TelemetryUnavailable) else f"{type(exc).__name__}: {exc}"
            self._set_status(st, dataclasses.replace(st.status, available=False, reason=reason))
            if st.failing_since is None:
                st.failing_since = now
            elif now - st.failing_since >= self.reopen_s:
                self._close(st)  # start afresh: re-open on a later tick
            return
        t_after = self.clock()
        st.failing_since = None
        if t_after - t_before > 0.01:
            # A slow read (HTTP): the readings belong to the middle of the call, not its start.
            mid = 0.5 * (t_before + t_after)
            samples = [dataclasses.replace(s, t=mid) if s.t == t_before else s for s in samples]
        self._ingest(st, samples)

    def _close(self, st: _SourceState) -> None:
        if st.opened:
            try:
                st.source.close()
            except Exception:
                log.exception("telemetry %s: close raised", st.source.name)
        st.opened = False
        st.last_open_try = time.monotonic()

    def _key(self, st: _SourceState, gpu: str) -> str:
        key = self._key_of.get((st.index, gpu))
        if key is None:
            key = gpu if gpu not in self._source_of else f"{st.source.name}/{gpu}"
            self._key_of[(st.index, gpu)] = key
            self._source_of[key] = st.index
        return key

    def _ingest(self, st: _SourceState, samples: list[GpuSample]) -> None:
        with self._lock:
            keys: list[str] = []
            for s in samples:
                key = self._key(st, s.gpu)
                if key != s.gpu:
                    s = dataclasses.replace(s, gpu=key)
                keys.append(key)
                if s.power_w is not None or s.energy_j is not None:
                    ring = self._rings.get(key)
                    if ring is None:
                        ring = self._rings[key] = GpuRing(self._capacity)
                    if not ring.append(s.t, s.power_w, s.energy_j):
                        continue
                    self._acc.setdefault(key, _Accumulator()).add(s.t, s.power_w, s.energy_j, self.max_gap_s)
                self._latest[key] = s
                if len(self._pending) == self._pending.maxlen:
                    self._pending_dropped += 1
                self._pending.append(s)
            st.status = SourceStatus(
                st.source.name,
                available=True,
                reason=st.open_note,
                simulated=st.source.simulated,
                gpus=tuple(keys),
            )

    # ---- queries (any thread) --------------------------------------------------------------

    def statuses(self) -> list[SourceStatus]:
        with self._lock:
            return [st.status for st in self._states]

    def latest_samples(self) -> dict[str, GpuSample]:
        """The most recent reading of every GPU (utilisation, memory, temperature, clocks too)."""
        with self._lock:
            return dict(self._latest)

    def drain_samples(self) -> list[GpuSample]:
        """Readings taken since the last drain, oldest first (for the run store)."""
        with self._lock:
            out = list(self._pending)
            self._pending.clear()
            dropped, self._pending_dropped = self._pending_dropped, 0
        if dropped:
            log.warning("telemetry: %d readings dropped before they were drained", dropped)
        return out

    @staticmethod
    def _why(statuses: list[SourceStatus]) -> str:
        """One line on the sources that give nothing: "nvml unavailable: <reason>; ..."."""
        parts = [
            f"{s.source} unavailable: {s.reason}" if not s.available else f"{s.source}: no reading yet"
            for s in statuses
        ]
        return "; ".join(parts)

    def power_view(self) -> PowerView:
        now = self.clock()
        with self._lock:
            statuses = [st.status for st in self._states]
            latest = dict(self._latest)
            energy = sum(a.energy_j for a in self._acc.values()) if self._acc else None
        if not statuses:
            return PowerView(note=NO_SOURCE_NOTE)
        fresh = {
            k: s.power_w
            for k, s in latest.items()
            if s.power_w is not None and now - s.t <= self.stale_after_s
        }
        per_gpu = {k: float(v) for k, v in sorted(fresh.items()) if v is not None}
        stale = sorted(k for k, s in latest.items() if k not in per_gpu and s.power_w is not None)
        note: str | None = None
        unavailable = [s for s in statuses if not s.available]
        if stale:
            ages = ", ".join(f"{k} ({now - latest[k].t:.0f} s ago)" for k in stale)
            note = f"no fresh reading from GPU {ages}"
            if per_gpu:
                note += ": the total excludes them"
            if unavailable:
                note += "; " + self._why(unavailable)
        elif not per_gpu:
            note = self._why(statuses)
        return PowerView(
            sources=tuple(statuses),
            per_gpu_w=per_gpu,
            total_w=sum(per_gpu.values()) if per_gpu else None,
            energy_j=energy,
            simulated=any(s.simulated for s in statuses),
            note=note,
        )

    def window_energy(self, t0: float, t1: float, *, min_coverage: float = 0.5) -> WindowEnergy:
        """Energy and mean power of all GPUs over [t0, t1] (run clock).

        Each GPU's readings must cover at least `min_coverage` of the window; the uncovered
        rest is extrapolated at that GPU's mean power over the covered part, and `coverage`
        says how much that was. A GPU below the threshold makes the whole figure missing
        (a partial sum would overstate agents per megawatt), and `note` says which and why.
        """
        if t1 < t0:
            raise ValueError(f"window ends before it starts: t0={t0}, t1={t1}")
        with self._lock:
            statuses = [st.status for st in self._states]
            sources = [st.source for st in self._states]
            source_of = dict(self._source_of)
            margin = max(120.0, 4 * self.max_gap_s)
            arrays = {k: r.window(t0, t1, margin) for k, r in self._rings.items()}
            first_t = {k: r.first_t for k, r in self._rings.items()}
            dropped = {k: r.dropped for k, r in self._rings.items()}

        any_simulated = any(s.simulated for s in sources)
        if not sources:
            return WindowEnergy(
                t0, t1, None, None, "none", (), False, f"{NO_SOURCE_NOTE}: agents per megawatt not measured"
            )
        if t1 == t0:
            return WindowEnergy(t0, t1, None, None, "none", (), any_simulated, "empty window")
        silent = [statuses[i] for i in range(len(sources)) if i not in set(source_of.values())]
        if not arrays or silent:
            return WindowEnergy(
                t0,
                t1,
                None,
                None,
                "none",
                tuple(sorted(arrays)),
                any_simulated,
                f"agents per megawatt not measured: no GPU power readings ({self._why(silent or statuses)})",
            )

        length = t1 - t0
        results: dict[str, GpuWindow] = {
            k: best_window(*arrays[k], t0, t1, self.max_gap_s) if k in arrays else NO_WINDOW
            for k in sorted(source_of)
        }
        gpus = tuple(results)
        coverage = {k: r.covered_s / length for k, r in results.items()}
        missing = [k for k in gpus if coverage[k] < min_coverage or results[k].energy_j is None]
        simulated = any(sources[source_of[k]].simulated for k in gpus)
        if missing:
            parts = []
            for k in missing:
                why = f"GPU {k}: readings cover {coverage[k]:.0%} of the window"
                if dropped.get(k) and t0 < first_t.get(k, -math.inf):
                    why += " (older readings were dropped: the ring holds the most recent ones)"
                status = statuses[source_of[k]]
                if not status.available:
                    why += f" ({status.source} unavailable: {status.reason})"
                parts.append(why)
            return WindowEnergy(
                t0,
                t1,
                None,
                None,
                "none",
                gpus,
                simulated,
                "agents per megawatt not measured: " + "; ".join(parts),
                coverage=min(coverage.values()),
            )
        per_gpu_j = {
            k: r.energy_j * length / r.covered_s for k, r in results.items() if r.energy_j is not None
        }
        total = sum(per_gpu_j.values())
        methods = {k: r.method for k, r in results.items()}
        method = "counter" if all(m == "counter" for m in methods.values()) else "integrated"
        notes: list[str] = []
        min_cov = min(coverage.values())
        if min_cov < 0.98:
            notes.append(f"readings cover {min_cov:.0%} of the window; the rest extrapolated at mean power")
        if len(set(methods.values())) > 1:
            integ = [k for k, m in methods.items() if m == "integrated"]
            notes.append("power integrated (no usable energy counter) for GPU " + ", ".join(integ))
        resets = sum(r.resets for r in results.values())
        if resets:
            notes.append(f"{resets} energy counter reset(s) bridged")
        slow = {k: r.refresh_s for k, r in results.items() if r.refresh_s is not None and r.refresh_s > 5.0}
        if slow:
            worst = max(v for v in slow.values() if v is not None)
            notes.append(
                f"energy counter updates only every ~{worst:.0f} s (exporter collect interval; "
                "dcgm-exporter -c 1000 gives 1 s)"
            )
        return WindowEnergy(
            t0,
            t1,
            total,
            total / length,
            method,
            gpus,
            simulated,
            "; ".join(notes) or None,
            coverage=min_cov,
            per_gpu_j=per_gpu_j,
            per_gpu_method=methods,
        )
