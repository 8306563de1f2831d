"""Everything a run is attached to: the endpoint (or embedded simulator), the store, telemetry, the
concurrency controller. Opened before the agents start, closed after the last one stops.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Any

from agentperf_tui.core.engine.config import ConfigError, RunConfig
from agentperf_tui.core.engine.summary import build_summary
from agentperf_tui.core.metrics.columns import RequestColumns
from agentperf_tui.core.preflight import Preflight, start_embedded
from agentperf_tui.core.search.controller import SearchController, SearchPlan
from agentperf_tui.core.search.result import SearchResult
from agentperf_tui.core.simulator.embedded import EmbeddedSimulator
from agentperf_tui.core.simulator.profiles import load_hardware
from agentperf_tui.core.store.paths import default_store_path
from agentperf_tui.core.store.writer import RunStore
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import RunSummary, Status
from agentperf_tui.core.telemetry.base import TelemetrySource
from agentperf_tui.core.telemetry.sampler import TelemetrySampler
from agentperf_tui.core.telemetry.select import make_sources
from agentperf_tui.core.telemetry.server_metrics import ServerMetricsScraper
from agentperf_tui.core.views import PowerView, ServerView
from agentperf_tui.core.workload.trajectory import Trajectory

EventFn = Callable[[str, str], None]


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
        self.store_path = cfg.store or str(default_store_path())
        self.store = RunStore(self.store_path)
        self.tier = cfg.slo_tier()
        self.controller = SearchController(self._plan())
        self.sampler: TelemetrySampler | None = None
        self.scraper: ServerMetricsScraper | None = None
        self.run_id: str | None = None
        self._saved_levels: dict[int, LevelRecord] = {}

    @property
    def simulated(self) -> bool:
        return self.preflight.simulated if self.preflight is not None else self.sim is not None

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
            tier=self.tier,
            start_n=n,
            max_n=cfg.max_concurrency,
            fixed_n=n if cfg.mode == "fixed" else None,
            sweep=cfg.sweep if cfg.mode == "sweep" else None,
            gpu_count=self.gpu_count,
            **kwargs,
        )

    # ---- run lifecycle ----
    def start_run(self, pf: Preflight, *, trajectories: list[Trajectory], started_wall: float) -> str:
        self.preflight = pf
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
            "host": platform.node(),
        }
        if self.sim is not None:
            config["simulator"] = self.sim.describe()
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
        for st in self.sampler.statuses():
            if st.available:
                self.event(
                    "info",
                    f"telemetry {st.source}: {len(st.gpus)} GPU(s)"
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

    def window_energy(self, t0: float, t1: float) -> Any:
        return self.sampler.window_energy(t0, t1) if self.sampler is not None else None

    def power_view(self) -> PowerView | None:
        return self.sampler.power_view() if self.sampler is not None else None

    def server_view(self) -> ServerView | None:
        return self.scraper.view() if self.scraper is not None else None

    def save_levels(self, ctl: SearchController) -> None:
        if self.run_id is None:
            return
        for lv in ctl.levels():
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
        self.save_levels(ctl)
        pf = self.preflight
        assert pf is not None
        summary = build_summary(
            run_id=self.run_id,
            status=status,
            status_reason=reason,
            started_wall=self._started_wall,
            endpoint=self.base_url,
            model=pf.model,
            simulated=pf.simulated,
            simulator=self.sim.describe() if self.sim is not None else None,
            comparable=pf.comparable,
            comparability=() if pf.comparable else (pf.comparability.strip().splitlines()[-1],),
            mode=self.cfg.mode,
            rigour=self.cfg.rigour,
            published_rules=ctl.plan.published_rules,
            gpu_count=self.gpu_count,
            duration_s=duration_s,
            cols=cols,
            levels=ctl.levels(),
            result=result,
            store=self.store_path,
        )
        if self.run_id is not None:
            self.store.finish_run(self.run_id, status=status, summary=summary)
            self.store.flush()
        return summary

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            if self.sim is not None:
                self.sim.close()
