"""The simulator's GPU power model as a telemetry source (always labelled simulated).

Each replica's GPUs draw idle power between steps and, during a step,
idle + (TDP - idle) x activity, where activity comes from the step's roofline: 1.0 when the
step is compute bound end to end, 0.7 when it is memory bound end to end, partly for
communication (see roofline.StepCost.activity). Energy is the exact integral of that piecewise
constant power, so a window's energy delta over its duration is its mean power.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agentperf_tui.core.simulator.engine import Engine
from agentperf_tui.core.telemetry.base import GpuSample, SourceStatus, TelemetryUnavailable


@dataclass(frozen=True, slots=True)
class GpuReading:
    power_w: float
    energy_j: float
    util_pct: float
    mem_used_bytes: int


def gpu_readings(engine: Engine, t: float) -> list[GpuReading]:
    """Per-GPU readings at engine time t: each replica's figures split evenly over its GPUs."""
    dep = engine.dep
    g = dep.gpus_per_replica
    weights_per_gpu = dep.model.weight_bytes / g
    kv_block_bytes = dep.model.kv_bytes_per_token * dep.engine.block_size
    idle = dep.hardware.idle_w * g
    span = (dep.hardware.tdp_w - dep.hardware.idle_w) * g
    out: list[GpuReading] = []
    for rep in engine.replicas:
        power = rep.power
        util = 100.0 * (power - idle) / span if span > 0 else 0.0
        mem = int(weights_per_gpu + rep.pool.used * kv_block_bytes / g)
        energy = rep.energy_at(t) / g
        out.extend(GpuReading(power / g, energy, util, mem) for _ in range(g))
    return out


class SimulatedPowerSource:
    """TelemetrySource over a running simulator's power model.

    `read(t)` returns the per-GPU readings now (the simulator supplies it, taking its engine
    lock); `t` passed to `sample` is the caller's run clock and is stamped on the samples.
    """

    simulated = True

    def __init__(self, read: Callable[[], list[GpuReading]], *, gpu_count: int, tdp_w: float,
                 label: str) -> None:
        self.name = "simulated"
        self._read = read
        self._gpus = tuple(f"sim/{i}" for i in range(gpu_count))
        self._tdp = tdp_w
        self._label = label
        self._open = False

    def open(self) -> SourceStatus:
        self._open = True
        return SourceStatus(source=f"simulated power model ({self._label})", available=True,
                            simulated=True, gpus=self._gpus)

    def sample(self, t: float) -> list[GpuSample]:
        if not self._open:
            raise TelemetryUnavailable("the simulated power source is not open")
        try:
            readings = self._read()
        except RuntimeError as e:
            raise TelemetryUnavailable(f"simulator not running: {e}") from e
        return [GpuSample(t=t, gpu=key, power_w=r.power_w, energy_j=r.energy_j, power_limit_w=self._tdp,
                          util_pct=r.util_pct, mem_used_bytes=r.mem_used_bytes)
                for key, r in zip(self._gpus, readings, strict=False)]

    def close(self) -> None:
        self._open = False
