"""What the engine publishes about a run in progress: aggregated snapshots a few times a second
and discrete events. The console and the headless printer draw these; nothing here is per token."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from agentperf_tui.core.summary.level import LevelRecord


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50: float = math.nan
    p95: float = math.nan
    p99: float = math.nan


@dataclass(frozen=True, slots=True)
class TierBracketView:
    """One tier's bracket as the search stands: the highest N that passed it, the lowest that
    failed it, and whether its N* is found."""

    tier: str
    speed_floor: float
    ttft_limit: float
    best_pass: int | None = None
    lowest_fail: int | None = None
    converged: bool = False
    """The bracket is as narrow as the tolerance asks (or the search reached its largest N)."""
    done: bool = False
    """No more levels are needed for this tier (found and confirmed)."""
    result_n: int | None = None


@dataclass(frozen=True, slots=True)
class SearchView:
    mode: str
    """"search", "fixed" or "sweep"."""
    rigour: str
    """"strict" or "fast"."""
    tier: str
    speed_floor: float
    ttft_limit: float
    levels: tuple[LevelRecord, ...] = ()
    best_pass: int | None = None
    lowest_fail: int | None = None
    done: bool = False
    result_n: int | None = None
    tiers: tuple[TierBracketView, ...] = ()
    """Every tier's bracket, in the run's order; the fields above are the first tier's."""


@dataclass(frozen=True, slots=True)
class PowerView:
    sources: tuple[Any, ...] = ()
    """SourceStatus of each telemetry source."""
    per_gpu_w: dict[str, float] = field(default_factory=dict)
    total_w: float | None = None
    energy_j: float | None = None
    """Energy since the run started, all GPUs."""
    simulated: bool = False
    note: str | None = None
    """Why there is no reading, when there is none."""


@dataclass(frozen=True, slots=True)
class ServerView:
    source: str
    values: dict[str, float] = field(default_factory=dict)
    """Normalised names: running, waiting, kv_cache_usage, prefix_hit_rate, prompt_tok_s, gen_tok_s."""
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    t: float
    kind: str
    """"info", "level", "warn", "error", "annotation"."""
    message: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    t: float
    run_id: str
    simulated_endpoint: bool
    target_n: int
    agents: int
    """Agent slots (a trajectory tree is one agent, whatever its sub-agents)."""
    requests_waiting: int
    """Requests sent, no byte of the reply yet (an agent running a tree may have several)."""
    requests_streaming: int
    """Requests whose reply is arriving."""
    agents_in_tool: int
    """Agents with no request in flight (tool call, think time, joining)."""
    requests_ok: int
    requests_failed: int
    output_tokens: int
    window_s: float
    ttft: Percentiles
    speed_p25: float
    speed_p50: float
    speed_hist: tuple[int, ...]
    speed_hist_edges: tuple[float, ...]
    throughput_tok_s: float
    client_lag_p99: float
    client_lag_max: float
    usage_mismatches: int = 0
    length_mismatches: int = 0
    level: LevelRecord | None = None
    search: SearchView | None = None
    power: PowerView | None = None
    server: ServerView | None = None
    paused: bool = False
    finished: bool = False
    requests_in_flight: int = 0
    not_comparable: str | None = None
    """Why the run cannot be compared with others (None: it can, so far)."""
    requests_stalled: int = 0
    """Requests of the whole run that failed as stalled (no byte for the stall timeout) or timed
    out (not finished within the request timeout); counted in `requests_failed` too."""
