"""What one run is asked to do. Shared by the console's setup screen and the headless CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentperf_tui.core import defaults
from agentperf_tui.core.client.stream import DEFAULT_BACKEND, Backend, RequestLimits
from agentperf_tui.core.data_paths import resolve_trajectories
from agentperf_tui.core.endpoint import is_loopback, normalise_base_url
from agentperf_tui.core.tiers import SloProfileError, SloTier, TierSpecError, parse_tiers

MIN_STALL_FIRST_S = 30.0
MIN_STALL_GAP_S = 5.0
NO_TIER_STALL_FIRST_S = 60.0
NO_TIER_STALL_GAP_S = 30.0


class ConfigError(ValueError):
    """A run configuration is unusable; the message names the field and what to do."""


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = None
    """Base URL of an OpenAI-compatible server; None runs the embedded simulator."""
    model: str | None = None
    """Served model name; None takes the first model the endpoint lists."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (never the key itself)."""
    allow_insecure_key: bool = False
    """Send the API key over plain http to a host that is not this machine (a trusted network)."""
    api: Literal["chat", "completions"] = "chat"
    hardware: str | None = None
    """Hardware profile (the simulator's deployment, and the GPU count for per-GPU figures)."""
    sim_model: str | None = None
    """Model profile for the embedded simulator."""
    gpu_count: int | None = Field(default=None, ge=1)
    """GPUs behind the endpoint, for agents per GPU (default: from the hardware profile)."""
    trajectories: str = "trajectories/quick"
    mode: Literal["search", "fixed", "sweep"] = "fixed"
    rigour: Literal["strict", "fast"] = "fast"
    tier: str | None = None
    """SLO tier(s): a name from profiles/slo or "S/T" (P25 speed >= S tok/s, P95 TTFT <= T s); a
    family ("deepseek-v4-pro@2026-06": all its tiers); or a comma-separated list of these."""
    concurrency: int = Field(default=4, ge=1)
    """N for fixed mode; the starting guess for a search."""
    max_concurrency: int = Field(default=4096, ge=1)
    budget_s: float | None = Field(default=None, gt=0)
    """Search: time budget in seconds; when it runs out the search ends with the bracket it has."""
    sweep: list[int] | None = None
    duration_s: float | None = Field(default=None, gt=0)
    """Fixed mode: how long to run. None: until the level's verdict is settled (or aborted)."""
    warmup_s: float | None = Field(default=None, ge=0)
    fast_min_s: float | None = Field(default=None, gt=0)
    """Fast mode: shortest measured window before a level's verdict may settle (default 60 s)."""
    telemetry: str = "auto"
    """"auto", "none", "sim", "nvml[:0,1]" or "dcgm:URL[,URL]"."""
    scrape_server_metrics: bool = True
    store: str | None = None
    seed: int = 0
    tool_delay: Literal["recorded", "baseline"] = "recorded"
    think_time: bool = False
    """Replay recorded human think time before user turns (off: agents never wait on a human)."""
    exact_length: bool = True
    client: Backend = DEFAULT_BACKEND
    """HTTP transport of the stream loop (httptools is the leanest; see benchmarks/client_bench.py)."""
    workers: int | None = Field(default=None, ge=1)
    """Load worker processes on this machine (None: one per ~1,000 agents, at most cores - 1; 1:
    the agents run in the engine's own process)."""
    ray: str | None = None
    """A Ray cluster's address ("auto": the one this machine belongs to): load workers become Ray
    actors on its nodes."""
    workers_per_node: int = Field(default=1, ge=1)
    max_connections: int = Field(default=8192, ge=1)
    request_timeout_s: float = Field(default=600.0, gt=0)
    """A request not finished this long after it was sent ends as "timeout"."""
    stall_timeout_s: float | None = Field(default=None, gt=0)
    """No byte for this long ends a request as "stalled". None: derived from the tier (see
    `request_limits`)."""
    window_s: float = Field(default=30.0, gt=0)
    """Window of the live percentiles."""
    snapshot_hz: float = Field(default=3.0, gt=0, le=20)

    @field_validator("api_key_env")
    @classmethod
    def _key_is_a_name(cls, v: str | None) -> str | None:
        if v is not None and (not v.replace("_", "").isalnum() or v[0].isdigit()):
            raise ValueError(
                "give the NAME of an environment variable holding the key (e.g. OPENAI_API_KEY), not the key"
            )
        return v

    @field_validator("endpoint")
    @classmethod
    def _endpoint_url(cls, v: str | None) -> str | None:
        return None if v is None else normalise_base_url(v)

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_tiers(v)
            except (TierSpecError, SloProfileError) as e:
                raise ValueError(str(e)) from None
        return v

    @model_validator(mode="after")
    def _mode_fields(self) -> RunConfig:
        if self.mode == "sweep" and not self.sweep:
            raise ValueError("mode 'sweep' needs a list of concurrencies (sweep=[4, 8, 16])")
        if self.mode in ("search", "sweep") and self.tier is None:
            raise ValueError(
                f"mode '{self.mode}' needs an SLO tier, e.g. {defaults.TIER} (fits the embedded "
                "simulator's default deployment) or S/T such as 100/5"
            )
        return self

    @property
    def simulated(self) -> bool:
        return self.endpoint is None

    def api_key(self) -> str | None:
        """The API key from the variable named by `api_key_env`, checked: printable, one line, and
        never sent in clear text to another machine unless `allow_insecure_key`."""
        if self.api_key_env is None:
            return None
        name = self.api_key_env
        key = os.environ.get(name)
        if key is None:
            raise ConfigError(
                f"--api-key-env: environment variable {name} is not set; export it before the run"
            )
        if not key or not key.isprintable() or any(c in key for c in "\r\n"):
            raise ConfigError(
                f"--api-key-env: the key in {name} is empty or holds a line break or another character "
                "that cannot go in an HTTP header; set it to the key alone"
            )
        endpoint = self.endpoint
        clear = endpoint is not None and endpoint.startswith("http://") and not is_loopback(endpoint)
        if clear and not self.allow_insecure_key:
            raise ConfigError(
                    f"--api-key-env: the key in {name} would cross the network unencrypted to {endpoint}; "
                    "use https://, or pass --allow-insecure-key if this network is trusted"
                )
        return key

    def request_limits(self) -> RequestLimits:
        """The request timeout and the stall timeouts of this run. Without --stall-timeout: before
        the first output, 3 x the tier's TTFT limit and at least 30 s; between output bytes, the
        TTFT limit and at least 5 s; without a tier, 60 s and 30 s. With several tiers, from the
        loosest TTFT limit: no request is cut short while it can still meet one of them."""
        if self.stall_timeout_s is not None:
            first = gap = self.stall_timeout_s
        else:
            tiers = self.slo_tiers()
            if not tiers:
                first, gap = NO_TIER_STALL_FIRST_S, NO_TIER_STALL_GAP_S
            else:
                limit = max(t.ttft_s for t in tiers)
                first = max(MIN_STALL_FIRST_S, 3.0 * limit)
                gap = max(MIN_STALL_GAP_S, limit)
        request = self.request_timeout_s
        return RequestLimits(
            request_s=request, stall_first_s=min(first, request), stall_gap_s=min(gap, request)
        )

    def slo_tiers(self) -> tuple[SloTier, ...]:
        """The tiers this run is judged against, in the order given (profile files are read once
        and cached); () without a tier."""
        return parse_tiers(self.tier) if self.tier is not None else ()

    def slo_tier(self) -> SloTier | None:
        """The run's first tier (its only one unless several were asked for)."""
        tiers = self.slo_tiers()
        return tiers[0] if tiers else None

    def trajectories_path(self) -> Path:
        return resolve_trajectories(self.trajectories)
