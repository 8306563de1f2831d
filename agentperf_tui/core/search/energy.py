"""What the search needs from telemetry: the GPU energy of a time window.

The telemetry layer's window-energy record satisfies this protocol; any object with these
attributes does (the virtual driver builds its own from the simulator's energy counter).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class WindowEnergyLike(Protocol):
    @property
    def energy_j(self) -> float | None: ...

    @property
    def mean_power_w(self) -> float | None: ...

    @property
    def method(self) -> str: ...

    @property
    def simulated(self) -> bool: ...

    @property
    def note(self) -> str | None: ...


EnergyFn = Callable[[float, float], WindowEnergyLike | None]
"""energy(t0, t1): GPU energy over [t0, t1] on the run clock, all GPUs of the deployment, or None."""


def no_energy(t0: float, t1: float) -> None:
    """An energy source for runs without power telemetry."""
    return None


@dataclass(frozen=True, slots=True)
class CounterWindow:
    """Window energy from a cumulative energy counter sampled over time (energy delta / duration)."""

    energy_j: float | None
    mean_power_w: float | None
    method: str = "energy counter delta / duration"
    simulated: bool = False
    note: str | None = None


class CounterLog:
    """Samples of a cumulative energy counter; answers window energy by linear interpolation."""

    def __init__(self, simulated: bool = False, method: str = "energy counter delta / duration") -> None:
        self._t: list[float] = []
        self._e: list[float] = []
        self.simulated = simulated
        self.method = method

    def add(self, t: float, energy_j: float) -> None:
        if self._t and t <= self._t[-1]:
            return
        self._t.append(t)
        self._e.append(energy_j)

    def _at(self, t: float) -> float | None:
        ts, es = self._t, self._e
        if not ts or t < ts[0] or t > ts[-1]:
            return None
        i = bisect.bisect_left(ts, t)
        if ts[i] == t:
            return es[i]
        f = (t - ts[i - 1]) / (ts[i] - ts[i - 1])
        return es[i - 1] + f * (es[i] - es[i - 1])

    def window(self, t0: float, t1: float) -> CounterWindow | None:
        if t1 <= t0:
            return None
        e0, e1 = self._at(t0), self._at(t1)
        if e0 is None or e1 is None:
            return CounterWindow(
                energy_j=None,
                mean_power_w=None,
                method=self.method,
                simulated=self.simulated,
                note=f"no energy samples cover {t0:.1f}-{t1:.1f} s",
            )
        de = e1 - e0
        return CounterWindow(
            energy_j=de, mean_power_w=de / (t1 - t0), method=self.method, simulated=self.simulated
        )
