"""TelemetrySampler with real DCGM sources on 127.0.0.1, a run clock the test advances, and
(for the threading tests) the real clock and the sampler's own threads."""

from __future__ import annotations

import threading
import time

import pytest

from agentperf_tui.core.telemetry.base import GpuSample, SourceStatus, TelemetrySource
from agentperf_tui.core.telemetry.dcgm import DcgmSource
from agentperf_tui.core.telemetry.nvml import NvmlSource
from agentperf_tui.core.telemetry.sampler import TelemetrySampler
from agentperf_tui.core.views import PowerView

from .conftest import ManualClock, MetricsServer
from .formats import DcgmGpu, dcgm_text


class ExporterFeed:
    """Serves a DCGM exporter page whose counters follow constant per-GPU power on the run clock."""

    def __init__(self, server: MetricsServer, clock: ManualClock, watts: list[float], path: str = "/metrics"):
        self.server, self.clock, self.watts, self.path = server, clock, watts, path
        self.energy_j = [1e6 * (i + 1) for i in range(len(watts))]
        self.last_t = clock()
        self.omit: tuple[str, ...] = ()
        self.url = server.serve(path, self.page())

    def page(self) -> str:
        gpus = [
            DcgmGpu(i, power_w=w, energy_mj=e * 1000.0)
            for i, (w, e) in enumerate(zip(self.watts, self.energy_j, strict=True))
        ]
        return dcgm_text(gpus, omit=self.omit)

    def advance(self, dt: float) -> None:
        self.clock.advance(dt)
        self.energy_j = [e + w * dt for e, w in zip(self.energy_j, self.watts, strict=True)]
        self.server.serve(self.path, self.page())


def run(sampler: TelemetrySampler, feed: ExporterFeed, seconds: int, step: float = 1.0) -> None:
    for _ in range(int(seconds / step)):
        feed.advance(step)
        sampler.poll_once()


def test_counter_window_energy_and_mean_power(metrics_server: MetricsServer, clock: ManualClock) -> None:
    feed = ExporterFeed(metrics_server, clock, [500.0, 700.0])
    sampler = TelemetrySampler([DcgmSource(feed.url)], clock=clock)
    sampler.poll_once()
    run(sampler, feed, 20)
    w = sampler.window_energy(5.5, 15.5)
    assert w.method == "counter"
    assert w.energy_j == pytest.approx((500 + 700) * 10.0)
    assert w.mean_power_w == pytest.approx(1200.0)
    assert len(w.gpus) == 2 and not w.simulated
    assert w.coverage == pytest.approx(1.0)
    assert w.note is None


def test_integrated_when_exporter_has_no_energy_counter(
    metrics_server: MetricsServer, clock: ManualClock
) -> None:
    feed = ExporterFeed(metrics_server, clock, [450.0])
    feed.omit = ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",)
    feed.advance(0.0)
    sampler = TelemetrySampler([DcgmSource(feed.url)], clock=clock)
    sampler.poll_once()
    run(sampler, feed, 10, step=0.5)
    w = sampler.window_energy(2.0, 8.0)
    assert w.method == "integrated"
    assert w.mean_power_w == pytest.approx(450.0)


def test_counter_reset_mid_window_through_the_sampler(
    metrics_server: MetricsServer, clock: ManualClock
) -> None:
    feed = ExporterFeed(metrics_server, clock, [600.0])
    sampler = TelemetrySampler([DcgmSource(feed.url)], clock=clock)
    sampler.poll_once()
    run(sampler, feed, 5)
    feed.energy_j = [3.0]  # driver reloaded: the counter restarts near zero
    run(sampler, feed, 5)
    w = sampler.window_energy(0.0, 10.0)
    assert w.method == "counter"
    assert w.mean_power_w == pytest.approx(600.0)
    assert w.note is not None and "reset" in w.note


def test_exporter_failure_is_a_state_and_window_note_says_why(
    metrics_server: MetricsServer, clock: ManualClock
) -> None:
    feed = ExporterFeed(metrics_server, clock, [500.0])
    sampler = TelemetrySampler([DcgmSource(feed.url)], clock=clock)
    sampler.poll_once()
    run(sampler, feed, 10)
    metrics_server.serve("/metrics", "", status=404)
    for _ in range(10):
        clock.advance(1.0)
        sampler.poll_once()
    (status,) = sampler.statuses()
    assert not status.available and status.reason is not None and "HTTP 404" in status.reason
    # The first half of [0, 20] is measured: extrapolated, and said so.
    half = sampler.window_energy(0.0, 20.0)
    assert half.mean_power_w == pytest.approx(500.0)
    assert half.coverage == pytest.approx(0.5)
    assert half.note is not None and "50%" in half.note
    # A window after the exporter died has no figure, and the note says why.
    dead = sampler.window_energy(12.0, 20.0)
    assert dead.energy_j is None and dead.mean_power_w is None and dead.method == "none"
    assert dead.note is not None
    assert "agents per megawatt not measured" in dead.note and "HTTP 404" in dead.note
    view = sampler.power_view()
    assert view.per_gpu_w == {} and view.total_w is None
    assert view.note is not None and "HTTP 404" in view.note
    # It comes back: the source is read again on the next tick.
    feed.advance(1.0)
    sampler.poll_once()
    assert sampler.statuses()[0].available


def test_second_exporter_down_makes_the_total_missing_not_partial(
    metrics_server: MetricsServer, clock: ManualClock
) -> None:
    feed = ExporterFeed(metrics_server, clock, [500.0])
    down = DcgmSource(metrics_server.base + "/node2-metrics")
    sampler = TelemetrySampler([DcgmSource(feed.url), down], clock=clock)
    sampler.poll_once()
    run(sampler, feed, 10)
    w = sampler.window_energy(1.0, 9.0)
    assert w.energy_j is None
    assert w.note is not None and "node2-metrics" in w.note and "HTTP 404" in w.note


def test_power_view_live_total_energy_since_start_and_staleness(
    metrics_server: MetricsServer, clock: ManualClock
) -> None:
    feed = ExporterFeed(metrics_server, clock, [300.0, 400.0])
    sampler = TelemetrySampler([DcgmSource(feed.url)], clock=clock)
    sampler.poll_once()
    run(sampler, feed, 10)
    view = sampler.power_view()
    assert isinstance(view, PowerView)
    assert sorted(view.per_gpu_w.values()) == [300.0, 400.0]
    assert view.total_w == 700.0
    assert view.energy_j == pytest.approx(7000.0)
    assert view.note is None and not view.simulated
    assert isinstance(view.sources[0], SourceStatus) and view.sources[0].available
    clock.advance(60.0)  # no reading for a minute
    stale = sampler.power_view()
    assert stale.total_w is None and stale.per_gpu_w == {}
    assert stale.note is not None and "no fresh reading" in stale.note and "60 s ago" in stale.note


def test_drain_returns_each_reading_once(metrics_server: MetricsServer, clock: ManualClock) -> None:
    feed = ExporterFeed(metrics_server, clock, [100.0, 200.0])
    sampler = TelemetrySampler([DcgmSource(feed.url)], clock=clock)
    sampler.poll_once()
    run(sampler, feed, 3)
    first = sampler.drain_samples()
    assert len(first) == 8 and all(isinstance(s, GpuSample) for s in first)
    assert [s.t for s in first] == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    assert sampler.drain_samples() == []
    run(sampler, feed, 1)
    assert len(sampler.drain_samples()) == 2


def test_no_sources_says_power_is_not_measured(clock: ManualClock) -> None:
    sampler = TelemetrySampler([], clock=clock)
    sampler.poll_once()
    assert sampler.power_view().note is not None
    w = sampler.window_energy(0.0, 10.0)
    assert w.energy_j is None and w.method == "none"
    assert w.note is not None and "none" in w.note and "agents per megawatt" in w.note


def test_nvml_unavailable_on_this_host_reason_reaches_window_note(clock: ManualClock) -> None:
    sampler = TelemetrySampler([NvmlSource()], clock=clock)
    sampler.poll_once()
    (status,) = sampler.statuses()
    if status.available:
        pytest.skip("this host has working NVML")
    w = sampler.window_energy(0.0, 10.0)
    assert w.energy_j is None
    assert (
        w.note is not None and "nvml unavailable" in w.note and "agents per megawatt not measured" in w.note
    )


class SteadySource:
    """A TelemetrySource in the shape of the simulator's power model: constant power, counter on t."""

    simulated = True

    def __init__(self, name: str, watts: float, gpu: str = "0") -> None:
        self.name, self.watts, self.gpu = name, watts, gpu

    def open(self) -> SourceStatus:
        return SourceStatus(self.name, True, simulated=True, gpus=(self.gpu,))

    def sample(self, t: float) -> list[GpuSample]:
        return [GpuSample(t=t, gpu=self.gpu, power_w=self.watts, energy_j=self.watts * t)]

    def close(self) -> None:
        pass


class BrokenSource:
    simulated = False
    name = "broken"

    def open(self) -> SourceStatus:
        return SourceStatus(self.name, True)

    def sample(self, t: float) -> list[GpuSample]:
        raise ZeroDivisionError("bug in a source")

    def close(self) -> None:
        pass


def test_any_telemetry_source_is_accepted_and_simulated_is_flagged(clock: ManualClock) -> None:
    sim: TelemetrySource = SteadySource("simulated", 650.0)
    other: TelemetrySource = SteadySource("simulated-b", 350.0)  # same GPU id: kept apart
    sampler = TelemetrySampler([sim, other], clock=clock)
    for _ in range(11):
        sampler.poll_once()
        clock.advance(1.0)
    w = sampler.window_energy(0.0, 10.0)
    assert w.simulated and w.mean_power_w == pytest.approx(1000.0)
    assert set(w.gpus) == {"0", "simulated-b/0"}
    view = sampler.power_view()
    assert view.simulated and view.total_w == 1000.0


def test_a_source_that_raises_does_not_stop_the_others(clock: ManualClock) -> None:
    sampler = TelemetrySampler([BrokenSource(), SteadySource("simulated", 100.0)], clock=clock)
    sampler.poll_once()
    broken, ok = sampler.statuses()
    assert not broken.available and broken.reason is not None and "ZeroDivisionError" in broken.reason
    assert ok.available


def test_samples_in_its_own_threads_and_stops(metrics_server: MetricsServer) -> None:
    url = metrics_server.serve("/metrics", dcgm_text([DcgmGpu(0)]))
    t0 = time.perf_counter()
    sampler = TelemetrySampler(
        [DcgmSource(url), SteadySource("simulated", 1.0)],
        interval_s=0.05,
        clock=lambda: time.perf_counter() - t0,
    )
    sampler.start()
    try:
        deadline = time.monotonic() + 5.0
        while len(metrics_server.requests) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)  # the main thread only waits: every reading comes from the sampler threads
        names = {t.name for t in threading.enumerate()}
        assert any(n.startswith("telemetry dcgm") for n in names)
        assert any(n.startswith("telemetry simulated") for n in names)
    finally:
        sampler.stop()
    assert len(metrics_server.requests) >= 5
    assert not any(t.name.startswith("telemetry ") for t in threading.enumerate())
    assert len(sampler.drain_samples()) >= 5
