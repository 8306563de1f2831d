"""Everything a run is attached to: the endpoint (or embedded simulator), the store, telemetry, the
concurrency controller. Opened before the agents start, closed after the last one stops.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import Any

from agentperf_tui.core.engine.config import ConfigError, RunConfig
from agentperf_tui.core.metrics.window import window_stats
from agentperf_tui.core.observer import LevelView, PowerView, ServerView
from agentperf_tui.core.search.controller import SearchController, SearchPlan
from agentperf_tui.core.search.tiers import parse_tier
from agentperf_tui.core.simulator.embedded import EmbeddedSimulator
from agentperf_tui.core.simulator.profiles import load_hardware
from agentperf_tui.core.store.paths import default_store_path
from agentperf_tui.core.store.writer import RunStore
from agentperf_tui.core.telemetry.base import TelemetrySource
from agentperf_tui.core.telemetry.sampler import TelemetrySampler
from agentperf_tui.core.telemetry.select import make_sources
from agentperf_tui.core.telemetry.server_metrics import ServerMetricsScraper
from agentperf_tui.core.workload.trajectory import Trajectory

EventFn = Callable[[str, str], None]


def _jsonable(x: Any) -> Any:
    if is_dataclass(x) and not isinstance(x, type):
        return {k: _jsonable(v) for k, v in asdict(x).items()}
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "model_dump"):
        return _jsonable(x.model_dump())
    return x


class RunContext:
    def __init__(self, cfg: RunConfig, clock: Callable[[], float], event: EventFn) -> None:
        self.cfg = cfg
        self.clock = clock
        self.event = event
        self.sim: EmbeddedSimulator | None = None
        self.simulated = cfg.endpoint is None
        self.api_key = cfg.api_key()
        self.model: str = cfg.model or ""
        self.gpu_count: int | None = cfg.gpu_count
        if self.simulated:
            kwargs: dict[str, Any] = {}
            if cfg.hardware:
                kwargs["hardware"] = cfg.hardware
            if cfg.sim_model:
                kwargs["model"] = cfg.sim_model
            self.sim = EmbeddedSimulator(seed=cfg.seed, **kwargs)
            self.sim.start()
            self.base_url = self.sim.base_url
            self.gpu_count = self.gpu_count or self.sim.gpu_count
            event("info", f"embedded simulator (SIMULATED) at {self.base_url}: {self.sim.describe()}")
        else:
            assert cfg.endpoint is not None
            self.base_url = cfg.endpoint
            if self.gpu_count is None and cfg.hardware:
                self.gpu_count = load_hardware(cfg.hardware).gpu_count
        self.store_path = cfg.store or str(default_store_path())
        self.store = RunStore(self.store_path)
        self.tier = parse_tier(cfg.tier) if cfg.tier else None
        self.controller = SearchController(self._plan(cfg.mode, cfg.concurrency))
        self.sampler: TelemetrySampler | None = None
        self.scraper: ServerMetricsScraper | None = None
        self.run_id: str | None = None
        self._saved_levels: dict[int, LevelView] = {}
        self.retired_levels: list[LevelView] = []
        """Levels of controllers replaced by a hand-set N."""

    # ---- search plan ----
    def _plan(self, mode: str, n: int) -> SearchPlan:
        cfg = self.cfg
        kwargs: dict[str, Any] = {}
        if cfg.warmup_s is not None:
            kwargs["warmup_s"] = cfg.warmup_s
        if cfg.fast_min_s is not None:
            kwargs["fast_min_s"] = cfg.fast_min_s
        return SearchPlan(
            mode=mode,  # type: ignore[arg-type]
            rigour=cfg.rigour,
            tier=self.tier,
            start_n=n,
            max_n=cfg.max_concurrency,
            fixed_n=n if mode == "fixed" else None,
            sweep=cfg.sweep if mode == "sweep" else None,
            gpu_count=self.gpu_count,
            **kwargs,
        )

    def manual_controller(self, previous: SearchController, n: int, now: float) -> SearchController:
        """A fixed-N controller replacing `previous`, whose levels stay on record."""
        self.save_levels(previous)
        self.retired_levels.extend(previous.view().levels)
        ctl = SearchController(self._plan("fixed", n))
        ctl.start(now)
        return ctl

    @property
    def level_offset(self) -> int:
        """Run-wide index of the current controller's first level."""
        return len(self.retired_levels)

    def all_levels(self, ctl: SearchController) -> list[LevelView]:
        return [*self.retired_levels, *ctl.view().levels]

    # ---- run lifecycle ----
    def start_run(
        self, *, model: str, comparable: bool, probe_note: str, trajectories: list[Trajectory]
    ) -> str:
        cfg = self.cfg
        config = cfg.model_dump() | {
            "model": model,
            "endpoint": self.base_url,
            "gpu_count": self.gpu_count,
            "comparable": comparable,
            "exact_length_probe": probe_note,
            "trajectory_ids": [t.id for t in trajectories],
            "tier_resolved": _jsonable(self.tier) if self.tier else None,
            "host": platform.node(),
        }
        if self.sim is not None:
            config["simulator"] = self.sim.describe()
        self.run_id = self.store.create_run(
            config=config,
            endpoint=self.base_url,
            model=model,
            simulated=self.simulated,
            started_wall=time.time(),
        )
        return self.run_id

    def start_telemetry(self) -> None:
        cfg = self.cfg
        spec = cfg.telemetry
        if spec == "auto":
            spec = "sim" if self.simulated else "nvml"
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
        for idx, lv in enumerate(ctl.view().levels, start=self.level_offset):
            if self._saved_levels.get(idx) != lv:
                self._saved_levels[idx] = lv
                self.store.put_level(self.run_id, idx, lv)

    def finish(self, agg: Any, ctl: SearchController, *, status: str, comparable: bool) -> dict[str, Any]:
        now = self.clock()
        self.save_levels(ctl)
        cols = agg.columns
        overall = window_stats(cols, now, now + 1.0)
        result = ctl.result()
        summary: dict[str, Any] = {
            "run_id": self.run_id,
            "status": status,
            "endpoint": self.base_url,
            "model": self.model,
            "simulated": self.simulated,
            "comparable": comparable,
            "mode": self.cfg.mode,
            "rigour": self.cfg.rigour,
            "tier": _jsonable(self.tier) if self.tier else None,
            "duration_s": round(now, 3),
            "requests": {"ok": cols.ok, "failed": cols.failed},
            "output_tokens": cols.output_tokens,
            "usage_mismatches": cols.usage_mismatches,
            "length_mismatches": cols.length_mismatches,
            "ttft_s": {"p50": overall.ttft.p50, "p95": overall.ttft.p95, "p99": overall.ttft.p99},
            "output_speed_tok_s": {"p25": overall.speed_p25, "p50": overall.speed_p50},
            "client_lag_s": {"p99": overall.client_lag_p99, "max": overall.client_lag_max},
            "levels": [_jsonable(lv) for lv in self.all_levels(ctl)],
            "result": _jsonable(result) if result is not None else None,
            "gpu_count": self.gpu_count,
            "store": self.store_path,
        }
        summary = _jsonable(summary)
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

