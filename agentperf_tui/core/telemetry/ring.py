"""A bounded ring of one GPU's (time, power W, energy J) readings in numpy arrays.

Storage grows by doubling up to `capacity` rows (24 bytes a row), then overwrites the oldest,
so a short run costs little and a long one is bounded: 12 h at 2 Hz is 86,400 rows, about 2 MB
per GPU. Missing values are NaN. Not thread-safe: the sampler holds its lock around every call.
"""

from __future__ import annotations

import math

import numpy as np

from agentperf_tui.core.telemetry.energy import FloatArray

_INITIAL_ROWS = 1024


class GpuRing:
    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError(f"ring capacity must be >= 2, got {capacity}")
        self.capacity = capacity
        rows = min(_INITIAL_ROWS, capacity)
        self._data = np.full((rows, 3), np.nan, dtype=np.float64)
        self._head = 0
        """Index of the oldest row once the ring is full."""
        self._count = 0
        self.dropped = 0
        """Rows overwritten because the ring was full."""

    def __len__(self) -> int:
        return self._count

    @property
    def last_t(self) -> float:
        if self._count == 0:
            return -math.inf
        return float(self._data[(self._head + self._count - 1) % len(self._data), 0])

    @property
    def first_t(self) -> float:
        return math.inf if self._count == 0 else float(self._data[self._head, 0])

    def append(self, t: float, power_w: float | None, energy_j: float | None) -> bool:
        """Add one reading; a reading not newer than the last one is ignored (returns False)."""
        if t <= self.last_t:
            return False
        rows = len(self._data)
        if self._count == rows and rows < self.capacity:
            grown = np.full((min(rows * 2, self.capacity), 3), np.nan, dtype=np.float64)
            grown[:rows] = self._ordered()
            self._data, self._head = grown, 0
            rows = len(grown)
        if self._count < rows:
            i = (self._head + self._count) % rows
            self._count += 1
        else:
            i = self._head
            self._head = (self._head + 1) % rows
            self.dropped += 1
        self._data[i, 0] = t
        self._data[i, 1] = np.nan if power_w is None else power_w
        self._data[i, 2] = np.nan if energy_j is None else energy_j
        return True

    def _ordered(self) -> FloatArray:
        rows = len(self._data)
        end = self._head + self._count
        if end <= rows:
            return self._data[self._head : end]
        return np.concatenate((self._data[self._head :], self._data[: end - rows]))

    def window(self, t0: float, t1: float, margin_s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Copies of (t, power, energy) for readings in [t0 - margin_s, t1 + margin_s], oldest first.

        The margin keeps the readings that bracket the window edges and lets a repeated
        (stale) counter value be traced back to when it first appeared.
        """
        data = self._ordered()
        lo = int(np.searchsorted(data[:, 0], t0 - margin_s, side="left"))
        hi = int(np.searchsorted(data[:, 0], t1 + margin_s, side="right"))
        part = data[max(lo - 1, 0) : hi + 1].copy()
        return part[:, 0], part[:, 1], part[:, 2]
