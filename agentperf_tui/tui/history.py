"""The dashboard's memory of a run: a bounded time series built from the snapshots it received.

It covers the whole run at a resolution that halves when the buffer fills (every other point is
dropped and only every other new point is kept), so a two-hour search and a two-minute one both
fit the same few thousand points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from agentperf_tui.core.views import Snapshot

FIELDS = (
    "t",
    "target_n",
    "agents",
    "waiting",
    "streaming",
    "in_tool",
    "ttft_p50",
    "ttft_p95",
    "ttft_p99",
    "speed_p25",
    "speed_p50",
    "throughput",
    "power_total",
    "client_lag_p99",
)


@dataclass
class History:
    capacity: int = 2400
    columns: dict[str, list[float]] = field(default_factory=lambda: {f: [] for f in FIELDS})
    gpu_power: dict[str, list[float]] = field(default_factory=dict)
    _stride: int = 1
    _seen: int = 0

    def __len__(self) -> int:
        return len(self.columns["t"])

    def add(self, snap: Snapshot) -> None:
        self._seen += 1
        if (self._seen - 1) % self._stride:
            return
        if self.columns["t"] and snap.t <= self.columns["t"][-1]:
            return
        power = snap.power
        row = {
            "t": snap.t,
            "target_n": float(snap.target_n),
            "agents": float(snap.agents),
            "waiting": float(snap.requests_waiting),
            "streaming": float(snap.requests_streaming),
            "in_tool": float(snap.agents_in_tool),
            "ttft_p50": snap.ttft.p50,
            "ttft_p95": snap.ttft.p95,
            "ttft_p99": snap.ttft.p99,
            "speed_p25": snap.speed_p25,
            "speed_p50": snap.speed_p50,
            "throughput": snap.throughput_tok_s,
            "power_total": power.total_w if power is not None and power.total_w is not None else math.nan,
            "client_lag_p99": snap.client_lag_p99,
        }
        n_before = len(self)
        for name, value in row.items():
            self.columns[name].append(value)
        gpus = power.per_gpu_w if power is not None else {}
        for gpu in gpus.keys() | self.gpu_power.keys():
            col = self.gpu_power.setdefault(gpu, [math.nan] * n_before)
            col.append(gpus.get(gpu, math.nan))
        if len(self) >= self.capacity:
            self._halve()

    def _halve(self) -> None:
        for name in self.columns:
            self.columns[name] = self.columns[name][::2]
        for gpu in self.gpu_power:
            self.gpu_power[gpu] = self.gpu_power[gpu][::2]
        self._stride *= 2

    def span(self) -> float:
        t = self.columns["t"]
        return t[-1] - t[0] if len(t) >= 2 else 0.0
