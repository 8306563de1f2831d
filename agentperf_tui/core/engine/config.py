"""What one run is asked to do. Shared by the console's setup screen and the headless CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentperf_tui.core.client.stream import DEFAULT_BACKEND, Backend
from agentperf_tui.core.data_paths import resolve_trajectories
from agentperf_tui.core.endpoint import normalise_base_url
from agentperf_tui.core.tiers import SloProfileError, SloTier, TierSpecError, parse_tier


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
    """SLO tier name from profiles/slo, or "S/T" (P25 speed >= S tok/s, P95 TTFT <= T s)."""
    concurrency: int = Field(default=4, ge=1)
    """N for fixed mode; the starting guess for a search."""
    max_concurrency: int = Field(default=4096, ge=1)
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
    max_connections: int = Field(default=8192, ge=1)
    request_timeout_s: float = Field(default=600.0, gt=0)
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
                parse_tier(v)
            except (TierSpecError, SloProfileError) as e:
                raise ValueError(str(e)) from None
        return v

    @model_validator(mode="after")
    def _mode_fields(self) -> RunConfig:
        if self.mode == "sweep" and not self.sweep:
            raise ValueError("mode 'sweep' needs a list of concurrencies (sweep=[4, 8, 16])")
        if self.mode in ("search", "sweep") and self.tier is None:
            raise ValueError(
                f"mode '{self.mode}' needs an SLO tier (tier='deepseek-v4-pro@2026-06/100-5' or '100/5')"
            )
        return self

    @property
    def simulated(self) -> bool:
        return self.endpoint is None

    def api_key(self) -> str | None:
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env)
        if key is None:
            raise ConfigError(
                f"api_key_env: environment variable {self.api_key_env} is not set; export it before the run"
            )
        return key

    def slo_tier(self) -> SloTier | None:
        """The tier this run is judged against (profile files are read once and cached)."""
        return parse_tier(self.tier) if self.tier is not None else None

    def trajectories_path(self) -> Path:
        return resolve_trajectories(self.trajectories)
