"""The one telemetry interface: GPU power/energy sources and what they report.

Sources: local NVML (nvml.py), remote DCGM exporters (dcgm.py), the simulator's power model
(core/simulator/power.py). A source never raises out of the sampler: failure is a state
("unavailable: reason"), and the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class TelemetryUnavailable(RuntimeError):
    """A source cannot deliver readings; the message is the reason shown to the operator."""


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One reading of one GPU. `t` is on the run clock (perf_counter based)."""

    t: float
    gpu: str
    """GPU key: "0", "1", ... for local NVML; "host:port/0" for a DCGM exporter."""
    power_w: float | None = None
    energy_j: float | None = None
    """Cumulative energy counter in joules since some origin (None when the source has none)."""
    power_limit_w: float | None = None
    util_pct: float | None = None
    mem_used_bytes: int | None = None
    temp_c: float | None = None
    sm_clock_mhz: float | None = None


@dataclass(frozen=True, slots=True)
class SourceStatus:
    source: str
    """Human name: "nvml", "dcgm http://node1:9400/metrics", "simulated"."""
    available: bool
    reason: str | None = None
    simulated: bool = False
    gpus: tuple[str, ...] = ()


@runtime_checkable
class TelemetrySource(Protocol):
    name: str
    simulated: bool

    def open(self) -> SourceStatus:
        """Prepare the source; never raises: an unusable source returns available=False with a reason."""
        ...

    def sample(self, t: float) -> list[GpuSample]:
        """Read every selected GPU now; raise TelemetryUnavailable on failure."""
        ...

    def close(self) -> None: ...
