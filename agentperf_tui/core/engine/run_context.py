"""Everything a run is attached to: the endpoint (or embedded simulator), the store, telemetry, the
concurrency controller. Opened before the agents start, closed after the last one stops.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Callable
from typing import Any

from agentperf_tui.core import fmt
from agentperf_tui.core.engine.comparability import Comparability
from agentperf_tui.core.engine.config import ConfigError, RunConfig
from agentperf_tui.core.engine.load import Load
from agentperf_tui.core.engine.summary import build_summary
from agentperf_tui.core.metrics.columns import RequestColumns
from agentperf_tui.core.metrics.throughput import window_throughput
from agentperf_tui.core.preflight import Preflight, start_embedded
from agentperf_tui.core.search.controller import SearchController
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.result import SearchResult
from agentperf_tui.core.simulator.embedded import EmbeddedSimulator
from agentperf_tui.core.simulator.profiles import load_hardware
from agentperf_tui.core.store.errors import StoreWriteError
from agentperf_tui.core.store.paths import default_store_path
from agentperf_tui.core.store.writer import RunStore
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import ClockOffsetInfo, LoadInfo, RunSummary, Status
from agentperf_tui.core.telemetry.base import TelemetrySource
from agentperf_tui.core.telemetry.sampler import NOT_STARTED, TelemetrySampler
from agentperf_tui.core.telemetry.select import make_sources
from agentperf_tui.core.telemetry.server_metrics import ServerMetricsScraper
from agentperf_tui.core.views import PowerView, ServerView
from agentperf_tui.core.workload.trajectory import Trajectory

EventFn = Callable[[str, str], None]
TELEMETRY_OPEN_WAIT_S = 3.0
"""How long the start of a run waits for each telemetry source's first answer, so the log says
why a source gives nothing rather than "not started"."""
NO_GPU_COUNT = (
    "GPU count unknown: agents per GPU will be missing; give --gpus N (or --hardware PROFILE)"
)

CLOCK_TOLERANCE = 0.01
"""A worker clock offset uncertain by more than this share of the TTFT limit is an incident."""


class RunContext:
    def __init__(self, cfg: RunConfig, clock: Callable[[], float], event: EventFn) -> None:
        self.cfg = cfg
        self.clock = clock
        self.event = event
        self.sim: EmbeddedSimulator | None = None
        self.api_key = cfg.api_key()
        self.gpu_count: int | None = cfg.gpu_count
        self.preflight: Preflight | None = None
        if cfg.endpoint is None:
            self.sim = start_embedded(cfg)
            self.base_url = self.sim.base_url
            self.gpu_count = self.gpu_count or self.sim.gpu_count
            event("info", f"embedded simulator (SIMULATED) at {self.base_url}: {self.sim.describe()}")
        else:
            self.base_url = cfg.endpoint
            if self.gpu_count is None and cfg.hardware:
                self.gpu_count = load_hardware(cfg.hardware).gpu_count
            if self.gpu_count is None:
                event("warn", NO_GPU_COUNT)
        self.store_path = cfg.store or str(default_store_path())
        self.store = RunStore(self.store_path)
        self.tiers = cfg.slo_tiers()
        self.tier = self.tiers[0] if self.tiers else None
        self.controller = SearchController(self._plan())
        self.sampler: TelemetrySampler | None = None
        self.scraper: ServerMetricsScraper | None = None
        self.run_id: str | None = None
        self._saved_levels: dict[int, LevelRecord] = {}
        self._measured: dict[tuple[int, float | None, float | None], dict[str, float | None]] = {}
        self._server_hits: list[tuple[float, float]] = []
        """(t, prefix hit rate) of each server metrics scrape that reported one."""
        self.load: Load | None = None
        self.incidents: list[str] = []

    @property
    def simulated(self) -> bool:
        return self.preflight.simulated if self.preflight is not None else self.sim is not None

    @property
    def simulator(self) -> str | None:
        """The simulated deployment: the embedded one, or what a simulator server says it models."""
        if self.sim is not None:
            return self.sim.deployment.label
        pf = self.preflight
        if pf is not None and pf.simulated:
            return (pf.model_info.deployment if pf.model_info is not None else None) or "simulator server"
        return None

    def _plan(self) -> SearchPlan:
        cfg = self.cfg
        kwargs: dict[str, Any] = {}
        if cfg.warmup_s is not None:
            kwargs["warmup_s"] = cfg.warmup_s
        if cfg.fast_min_s is not None:
            kwargs["fast_min_s"] = cfg.fast_min_s
        n = cfg.concurrency
        return SearchPlan(
            mode=cfg.mode,
            rigour=cfg.rigour,
            tiers=self.tiers,
            start_n=n,
            max_n=cfg.max_concurrency,
            budget_s=cfg.budget_s if cfg.mode == "search" else None,
            fixed_n=n if cfg.mode == "fixed" else None,
            sweep=cfg.sweep if cfg.mode == "sweep" else None,
            gpu_count=self.gpu_count,
            **kwargs,
        )

    # ---- run lifecycle ----
    def start_run(self, pf: Preflight, *, trajectories: list[Trajectory], started_wall: float) -> str:
        self.preflight = pf
        self.comparability = Comparability(pf)
        config = self.cfg.model_dump() | {
            "model": pf.model,
            "endpoint": self.base_url,
            "gpu_count": self.gpu_count,
            "simulated": pf.simulated,
            "simulated_by": pf.simulated_by,
            "comparable": pf.comparable,
            "exact_length_probe": pf.comparability,
            "trajectory_ids": [t.id for t in trajectories],
            "tier_resolved": self.tier.to_dict() if self.tier else None,
            "tiers_resolved": [t.to_dict() for t in self.tiers],
            "host": platform.node(),
        }
        if self.sim is not None:
            config["simulator"] = self.sim.describe()
        elif self.simulator is not None:
            config["simulator"] = self.simulator
        self.run_id = self.store.create_run(
            config=config,
            endpoint=self.base_url,
            model=pf.model,
            simulated=pf.simulated,
            started_wall=started_wall,
        )
        self._started_wall = started_wall
        return self.run_id

    def start_telemetry(self) -> None:
        cfg = self.cfg
        spec = cfg.telemetry
        if spec == "auto":
            spec = "sim" if self.sim is not None else "nvml"
        if spec == "sim":
            if self.sim is None:
                raise ConfigError(
                    "telemetry: 'sim' only applies to the embedded simulator; use nvml, dcgm:URL or none"
                )
            sources: list[TelemetrySource] = [self.sim.power_source()]
        else:
            sources = make_sources(spec)
        self.sampler = TelemetrySampler(sources, clock=self.clock)
        self.sampler.start()
        deadline = time.monotonic() + TELEMETRY_OPEN_WAIT_S
        while time.monotonic() < deadline and any(
            not st.available and st.reason == NOT_STARTED for st in self.sampler.statuses()
        ):
            time.sleep(0.05)
        for st in self.sampler.statuses():
            if st.available:
                self.event(
                    "info",
                    f"telemetry {st.source}: {fmt.plural(len(st.gpus), 'GPU')}"
                    + (" (simulated)" if st.simulated else ""),
                )
            else:
                self.event("warn", f"telemetry {st.source} unavailable: {st.reason}")
        if cfg.scrape_server_metrics:
            self.scraper = ServerMetricsScraper(self.base_url, clock=self.clock, api_key=self.api_key)
            self.scraper.start()

    def stop_telemetry(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        if self.scraper is not None:
            self.scraper.stop()
        if self.run_id is not None:
            self.drain_telemetry(self.run_id)

    def drain_telemetry(self, run_id: str) -> None:
        if self.sampler is not None:
            samples = self.sampler.drain_samples()
            if samples:
                self.store.add_telemetry(
                    run_id, samples, source=",".join(s.source for s in self.sampler.statuses())
                )
        if self.scraper is not None:
            rows = self.scraper.drain()
            if rows:
                self.store.add_server_metrics(run_id, rows)
                self._server_hits.extend(
                    (t, values["prefix_hit_rate"]) for t, values in rows if "prefix_hit_rate" in values
                )

    def window_energy(self, t0: float, t1: float) -> Any:
        return self.sampler.window_energy(t0, t1) if self.sampler is not None else None

    def power_view(self) -> PowerView | None:
        return self.sampler.power_view() if self.sampler is not None else None

    def server_view(self) -> ServerView | None:
        return self.scraper.view() if self.scraper is not None else None

    def measured_levels(self, ctl: SearchController, cols: RequestColumns) -> list[LevelRecord]:
        """The controller's levels, each finished one with what its measured window moved
        (throughput, requests/s, cache hits: see core/metrics/throughput.py)."""
        return [self._with_figures(lv, cols) for lv in ctl.levels()]

    def _with_figures(self, lv: LevelRecord, cols: RequestColumns) -> LevelRecord:
        t0, t1 = lv.measure_from, lv.window_end
        if lv.outcome is None or t0 is None or t1 is None or t1 <= t0:
            return lv
        key = (lv.index, t0, t1)
        figures = self._measured.get(key)
        if figures is None:
            figures = window_throughput(cols, t0, t1).as_fields()
            hits = [h for t, h in self._server_hits if t0 <= t < t1]
            figures["server_prefix_hit_ratio"] = sum(hits) / len(hits) if hits else None
            self._measured[key] = figures
        return lv.model_copy(update=figures)

    def save_levels(self, ctl: SearchController, cols: RequestColumns) -> None:
        if self.run_id is None:
            return
        for lv in self.measured_levels(ctl, cols):
            if self._saved_levels.get(lv.index) != lv:
                self._saved_levels[lv.index] = lv
                self.store.put_level(self.run_id, lv)

    def finish(
        self,
        cols: RequestColumns,
        ctl: SearchController,
        result: SearchResult | None,
        *,
        status: Status,
        reason: str | None,
        duration_s: float,
    ) -> RunSummary:
        self.save_levels(ctl, cols)
        pf = self.preflight
        assert pf is not None
        # what is queued is tried first, so that the count of lost writes below is whole
        with contextlib.suppress(StoreWriteError, TimeoutError):
            self.store.flush(timeout=5.0)
        store = self.store.status()
        if store.failed_writes:
            self.incidents.append(
                f"run store {self.store_path}: {store.failed_writes} writes lost ({store.first_error}); "
                "what they held is missing from the store, not from this summary"
            )
        summary = build_summary(
            run_id=self.run_id,
            status=status,
            status_reason=reason,
            started_wall=self._started_wall,
            endpoint=self.base_url,
            model=pf.model,
            simulated=pf.simulated,
            simulated_by=pf.simulated_by,
            simulator=self.simulator,
            comparable=self.comparability.comparable,
            comparability=tuple(self.comparability.reasons),
            mode=self.cfg.mode,
            rigour=self.cfg.rigour,
            published_rules=ctl.plan.published_rules,
            gpu_count=self.gpu_count,
            duration_s=duration_s,
            cols=cols,
            levels=self.measured_levels(ctl, cols),
            result=result,
            store=self.store_path,
            load=self._load_info(),
            incidents=tuple(self.incidents),
        )
        if self.run_id is not None:
            self.store.finish_run(self.run_id, status=status, summary=summary)
            try:
                self.store.flush(timeout=10.0)
            except (StoreWriteError, TimeoutError) as e:
                self.event(
                    "error",
                    f"{e}; the run is marked {status} in the store once it can be written again "
                    "(or when a run next opens it)",
                )
        return summary

    def _load_info(self) -> LoadInfo:
        """Where the agents ran; a clock offset too uncertain for the tier becomes an incident."""
        load = self.load
        if load is None:
            return LoadInfo()
        offsets = tuple(
            ClockOffsetInfo(
                worker=o.worker, offset_s=o.offset_s, uncertainty_s=o.uncertainty_s, shared=o.shared
            )
            for o in load.offsets()
        )
        self.incidents.extend(getattr(load, "incidents", ()))
        worst = max((o.uncertainty_s for o in offsets if not o.shared), default=0.0)
        limit = min((t.ttft_s for t in self.tiers), default=None)
        if limit is not None and worst > CLOCK_TOLERANCE * limit:
            self.incidents.append(
                f"clock offset of a load worker known to {worst * 1e3:.1f} ms only, more than "
                f"{CLOCK_TOLERANCE:.0%} of the {limit:g} s TTFT limit: requests near a level's "
                "window edges may be counted in the wrong level"
            )
        return LoadInfo(kind=load.kind, workers=load.workers, clock_offsets=offsets)  # type: ignore[arg-type]

    def close(self) -> None:
        try:
            with contextlib.suppress(StoreWriteError):  # already reported, once
                self.store.close()
        finally:
            if self.sim is not None:
                self.sim.close()
