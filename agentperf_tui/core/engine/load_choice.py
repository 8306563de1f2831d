"""Which load a run gets: its own process, worker processes, or Ray actors (docs/scale-out.md)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable

from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.load import EventFn, Load, LocalLoad

AGENTS_PER_WORKER = 1000
"""About as many agents as one core drives at tier speed (benchmarks/client_bench.py)."""


def peak_agents(cfg: RunConfig) -> int:
    """The most agents the run may hold at once."""
    if cfg.mode == "fixed":
        return cfg.concurrency
    if cfg.mode == "sweep" and cfg.sweep:
        return max(cfg.sweep)
    return cfg.max_concurrency


def auto_workers(cfg: RunConfig, cores: int | None = None) -> int:
    """One worker per ~1,000 agents, at most the cores less one (one is the coordinator's)."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores - 1, math.ceil(peak_agents(cfg) / AGENTS_PER_WORKER)))


def workers_for(cfg: RunConfig) -> int:
    return cfg.workers if cfg.workers is not None else auto_workers(cfg)


def make_load(cfg: RunConfig, client: StreamClient, clock: Callable[[], float], event: EventFn) -> Load:
    if cfg.ray is not None:
        from agentperf_tui.core.engine.ray_workers import ray_workers

        return ray_workers(cfg.ray, cfg.workers_per_node, clock, event)
    k = workers_for(cfg)
    if k <= 1:
        return LocalLoad(client, clock)
    from agentperf_tui.core.engine.process_workers import process_workers

    return process_workers(k, clock, event)
