"""A bounded ring of one GPU's (time, power W, energy J) readings in numpy arrays.

Storage grows by doubling up to `capacity` rows (24 bytes a row), then overwrites the oldest,
so a short run costs little and a long one is bounded: 12 h at 2 Hz is 86,400 rows, about 2 MB
per GPU. Missing values are NaN. Not thread-safe: the sampler holds its lock around every call.
"""

from __future__ import annotations

import math
from typing import Literal

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
        self._last_t = -math.inf
        self.dropped = 0
        """Rows overwritten because the ring was full."""

    def __len__(self) -> int:
        return self._count

    @property
    def last_t(self) -> float:
        return self._last_t

    @property
    def first_t(self) -> float:
        return math.inf if self._count == 0 else float(self._data[self._head, 0])

    def append(self, t: float, power_w: float | None, energy_j: float | None) -> bool:
        """Add one reading; a reading not newer than the last one is ignored (returns False)."""
        if t <= self._last_t:
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
        p = math.nan if power_w is None else power_w
        self._data[i] = (t, p, math.nan if energy_j is None else energy_j)
        self._last_t = t
        return True

    def _ordered(self) -> FloatArray:
        rows = len(self._data)
        end = self._head + self._count
        if end <= rows:
            return self._data[self._head : end]
        return np.concatenate((self._data[self._head :], self._data[: end - rows]))

    def _search(self, x: float, side: Literal["left", "right"]) -> int:
        """np.searchsorted over the readings in time order, without reordering the ring."""
        rows = len(self._data)
        end = self._head + self._count
        first = self._data[self._head : min(end, rows), 0]
        pos = int(np.searchsorted(first, x, side=side))
        if pos < len(first) or end <= rows:
            return pos
        return len(first) + int(np.searchsorted(self._data[: end - rows, 0], x, side=side))

    def window(self, t0: float, t1: float, margin_s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Copies of (t, power, energy) for readings in [t0 - margin_s, t1 + margin_s] and the one
        reading on either side, oldest first. Only those rows are copied.

        The margin keeps the readings that bracket the window edges and lets a repeated
        (stale) counter value be traced back to when it first appeared.
        """
        lo = max(self._search(t0 - margin_s, "left") - 1, 0)
        hi = min(self._search(t1 + margin_s, "right") + 1, self._count)
        idx = (self._head + np.arange(lo, hi)) % len(self._data)
        part = self._data[idx]
        return part[:, 0], part[:, 1], part[:, 2]
