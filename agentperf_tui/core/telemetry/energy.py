"""Energy of one GPU over a window [t0, t1], from its readings: the energy counter, or the
integrated power (pure arithmetic, no threads). The rules are in docs/telemetry.md, "Window
energy".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class GpuWindow:
    energy_j: float | None
    """Energy over the covered span only (None when nothing is covered)."""
    covered_s: float
    method: str
    """"counter", "integrated" or "none"."""
    resets: int = 0
    refresh_s: float | None = None
    """Median time between counter changes (how often the source really updates)."""

    @property
    def mean_power_w(self) -> float | None:
        if self.energy_j is None or self.covered_s <= 0:
            return None
        return self.energy_j / self.covered_s


NO_WINDOW = GpuWindow(None, 0.0, "none")


def _trapezoid(y: FloatArray, x: FloatArray) -> float:
    if len(x) < 2:
        return 0.0
    return float(np.sum((y[1:] + y[:-1]) * 0.5 * np.diff(x)))


def _bracket(t: FloatArray, t0: float, t1: float) -> tuple[int, int]:
    """Index range [lo, hi) of the readings needed for [t0, t1]: one before t0 to one after t1."""
    lo = max(int(np.searchsorted(t, t0, side="right")) - 1, 0)
    hi = min(int(np.searchsorted(t, t1, side="left")) + 1, len(t))
    return lo, hi


def counter_energy(t: FloatArray, energy: FloatArray, power: FloatArray, t0: float, t1: float) -> GpuWindow:
    if t1 <= t0:
        return NO_WINDOW
    ok = ~np.isnan(energy)
    tt, ee, pp = t[ok], energy[ok], power[ok]
    if len(tt) < 2:
        return NO_WINDOW
    keep = np.empty(len(ee), dtype=bool)
    keep[0] = True
    keep[1:] = ee[1:] != ee[:-1]
    tt, ee, pp = tt[keep], ee[keep], pp[keep]
    lo, hi = _bracket(tt, t0, t1)
    tt, ee, pp = tt[lo:hi], ee[lo:hi], pp[lo:hi]
    if len(tt) < 2:
        return NO_WINDOW
    a, b = max(t0, float(tt[0])), min(t1, float(tt[-1]))
    if b <= a:
        return NO_WINDOW
    d = np.diff(ee)
    reset = d < 0
    if reset.any():
        dt = np.diff(tt)
        bridge_p = (pp[1:] + pp[:-1]) * 0.5 * dt
        bridge = np.where(np.isnan(bridge_p), ee[1:], bridge_p)
        d = np.where(reset, bridge, d)
    unwrapped = np.concatenate(([0.0], np.cumsum(d)))
    e_a, e_b = np.interp([a, b], tt, unwrapped)
    refresh = float(np.median(np.diff(tt))) if len(tt) >= 3 else None
    return GpuWindow(float(e_b - e_a), b - a, "counter", int(reset.sum()), refresh)


def integrated_energy(t: FloatArray, power: FloatArray, t0: float, t1: float, max_gap_s: float) -> GpuWindow:
    if t1 <= t0:
        return NO_WINDOW
    ok = ~np.isnan(power)
    tt, pp = t[ok], power[ok]
    lo, hi = _bracket(tt, t0, t1)
    tt, pp = tt[lo:hi], pp[lo:hi]
    if len(tt) < 2:
        return NO_WINDOW
    breaks = np.flatnonzero(np.diff(tt) > max_gap_s) + 1
    energy = 0.0
    covered = 0.0
    for seg_t, seg_p in zip(np.split(tt, breaks), np.split(pp, breaks), strict=True):
        if len(seg_t) < 2:
            continue
        a, b = max(t0, float(seg_t[0])), min(t1, float(seg_t[-1]))
        if b <= a:
            continue
        inner = seg_t[(seg_t > a) & (seg_t < b)]
        x = np.concatenate(([a], inner, [b]))
        energy += _trapezoid(np.interp(x, seg_t, seg_p), x)
        covered += b - a
    if covered <= 0:
        return NO_WINDOW
    return GpuWindow(energy, covered, "integrated")


def best_window(
    t: FloatArray, power: FloatArray, energy: FloatArray, t0: float, t1: float, max_gap_s: float
) -> GpuWindow:
    """The counter result, unless power readings cover far more of the window (1.5x or more).

    A counter that stops short of the window's end by one slow refresh still wins over
    integrating the same exporter's repeated power readings.
    """
    by_counter = counter_energy(t, energy, power, t0, t1)
    if by_counter.covered_s >= 0.98 * (t1 - t0):
        return by_counter
    by_power = integrated_energy(t, power, t0, t1, max_gap_s)
    if by_counter.method == "none" or by_power.covered_s >= 1.5 * by_counter.covered_s:
        return by_power if by_power.method != "none" else by_counter
    return by_counter
