from __future__ import annotations

import math

import numpy as np
import pytest

from agentperf_tui.core.telemetry.ring import GpuRing


def test_grows_then_overwrites_oldest_keeping_time_order() -> None:
    ring = GpuRing(capacity=3000)
    for i in range(5000):
        ring.append(float(i), 100.0 + i, None if i % 2 else 10.0 * i)
    assert len(ring) == 3000
    assert ring.dropped == 2000
    assert ring.first_t == 2000.0 and ring.last_t == 4999.0
    t, p, e = ring.window(-math.inf, math.inf, 0.0)
    assert np.array_equal(t, np.arange(2000.0, 5000.0))
    assert np.array_equal(p, 100.0 + t)
    assert math.isnan(e[1]) and e[0] == 20000.0


def test_window_returns_bracketing_readings_only() -> None:
    ring = GpuRing(capacity=100)
    for i in range(100):
        ring.append(float(i), 1.0, float(i))
    t, _, _ = ring.window(40.0, 50.0, margin_s=5.0)
    assert t[0] == 34.0 and t[-1] == 56.0


def test_readings_not_newer_than_last_are_ignored() -> None:
    ring = GpuRing(capacity=10)
    assert ring.append(1.0, 5.0, None)
    assert not ring.append(1.0, 6.0, None)
    assert not ring.append(0.5, 6.0, None)
    assert len(ring) == 1


def test_rejects_tiny_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        GpuRing(1)


@pytest.mark.parametrize("n", [5, 64, 100, 101, 250, 333])
def test_window_matches_brute_force_on_wrapped_ring(n: int) -> None:
    rng = np.random.default_rng(n)
    ring = GpuRing(capacity=100)
    times = np.cumsum(rng.uniform(0.1, 2.0, n))
    for k, t in enumerate(times):
        ring.append(float(t), float(k), float(10 * k))
    kept = times[-100:]
    for _ in range(50):
        a, b = np.sort(rng.uniform(times[0] - 5, times[-1] + 5, 2))
        margin = float(rng.uniform(0, 3))
        t, p, e = ring.window(float(a), float(b), margin)
        inside = np.flatnonzero((kept >= a - margin) & (kept <= b + margin))
        if len(inside):
            lo, hi = max(inside[0] - 1, 0), min(inside[-1] + 2, len(kept))
        else:  # nothing inside: the readings either side of the span
            pos = int(np.searchsorted(kept, a - margin))
            lo, hi = max(pos - 1, 0), min(pos + 1, len(kept))
        assert np.array_equal(t, kept[lo:hi]), (a, b, margin)
        assert np.array_equal(e, 10 * p)
