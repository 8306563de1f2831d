"""Window energy arithmetic: counters, integration, resets, stale counters, partial windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agentperf_tui.core.telemetry.energy import best_window, counter_energy, integrated_energy

NAN = math.nan


def arr(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=np.float64)


def test_counter_difference_inside_window_is_exact() -> None:
    t = np.arange(0.0, 11.0)  # readings at 0..10 s
    e = 1000.0 + 500.0 * t  # 500 W
    w = counter_energy(t, e, np.full_like(t, 500.0), 2.0, 8.0)
    assert w.method == "counter"
    assert w.energy_j == pytest.approx(3000.0)
    assert w.covered_s == pytest.approx(6.0)
    assert w.mean_power_w == pytest.approx(500.0)


def test_counter_is_interpolated_at_window_edges() -> None:
    # 400 W from 0 to 10 s, then 800 W; edges fall between readings.
    t = arr(0, 10, 20)
    e = arr(0, 4000, 12000)
    w = counter_energy(t, e, arr(NAN, NAN, NAN), 5.0, 15.0)
    assert w.energy_j == pytest.approx(2000.0 + 4000.0)


def test_counter_reset_is_bridged_with_power_trapezoid() -> None:
    t = arr(0, 1, 2, 3, 4)
    e = arr(100, 600, 1100, 50, 550)  # reset between 2 s and 3 s
    p = arr(500, 500, 500, 500, 500)
    w = counter_energy(t, e, p, 0.0, 4.0)
    assert w.resets == 1
    assert w.energy_j == pytest.approx(2000.0)


def test_counter_reset_without_power_counts_from_zero() -> None:
    t = arr(0, 1, 2, 3)
    e = arr(100, 600, 30, 530)  # restarted from 0 and counted 30 J before the 2 s reading
    w = counter_energy(t, e, arr(NAN, NAN, NAN, NAN), 0.0, 3.0)
    assert w.energy_j == pytest.approx(500 + 30 + 500)
    assert w.resets == 1


def test_counter_wrap_at_64_bits_is_treated_as_restart() -> None:
    top = float(2**64 - 1) / 1000.0  # NVML mJ counter at its top, in J
    t = arr(0, 1, 2)
    e = arr(top - 100.0, 50.0, 550.0)
    p = arr(NAN, NAN, NAN)
    w = counter_energy(t, e, p, 0.0, 2.0)
    assert w.resets == 1
    assert w.energy_j == pytest.approx(50.0 + 500.0)


def test_stale_repeated_counter_values_use_first_appearance() -> None:
    # Exporter refreshes every 10 s, scraped every 1 s: values repeat for 10 readings.
    t = np.arange(0.0, 31.0)
    refresh = np.floor(t / 10.0) * 10.0
    e = 600.0 * refresh  # 600 W, counter visible only at 0, 10, 20, 30
    w = counter_energy(t, e, np.full_like(t, NAN), 5.0, 25.0)
    assert w.energy_j == pytest.approx(600.0 * 20.0)
    assert w.refresh_s == pytest.approx(10.0)


def test_counter_across_a_sampling_gap_stays_exact() -> None:
    t = arr(0, 1, 100, 101)
    e = 700.0 * t
    w = counter_energy(t, e, arr(NAN, NAN, NAN, NAN), 0.0, 101.0)
    assert w.energy_j == pytest.approx(700.0 * 101.0)
    assert w.covered_s == pytest.approx(101.0)


def test_integrated_trapezoid_exact_for_linear_ramp() -> None:
    t = np.linspace(0.0, 10.0, 21)
    p = 100.0 + 10.0 * t
    w = integrated_energy(t, p, 2.0, 7.0, max_gap_s=5.0)
    # integral of 100 + 10 t from 2 to 7 = 500 + 5 * (49 - 4)
    assert w.energy_j == pytest.approx(500.0 + 225.0)
    assert w.method == "integrated"


def test_integrated_gap_is_not_bridged_or_covered() -> None:
    t = arr(0, 1, 2, 30, 31, 32)
    p = arr(500, 500, 500, 500, 500, 500)
    w = integrated_energy(t, p, 0.0, 32.0, max_gap_s=5.0)
    assert w.covered_s == pytest.approx(4.0)
    assert w.energy_j == pytest.approx(2000.0)


def test_partial_window_covers_only_the_sampled_part() -> None:
    t = arr(10, 11, 12, 13, 14, 15)
    e = 300.0 * t
    w = counter_energy(t, e, arr(*[NAN] * 6), 0.0, 20.0)
    assert w.covered_s == pytest.approx(5.0)
    assert w.energy_j == pytest.approx(1500.0)


def test_window_without_readings_gives_nothing() -> None:
    t = arr(0, 1, 2)
    assert counter_energy(t, arr(0, 1, 2), arr(1, 1, 1), 5.0, 9.0).energy_j is None
    assert integrated_energy(t, arr(1, 1, 1), 5.0, 9.0, 5.0).energy_j is None
    assert counter_energy(t, arr(NAN, NAN, NAN), arr(1, 1, 1), 0.0, 2.0).method == "none"


def test_best_window_prefers_counter_and_falls_back_to_power() -> None:
    t = np.arange(0.0, 11.0)
    p = np.full_like(t, 450.0)
    e = 460.0 * t  # counter and power disagree slightly: counter must win
    w = best_window(t, p, e, 0.0, 10.0, 5.0)
    assert w.method == "counter" and w.energy_j == pytest.approx(4600.0)
    w2 = best_window(t, p, np.full_like(t, NAN), 0.0, 10.0, 5.0)
    assert w2.method == "integrated" and w2.energy_j == pytest.approx(4500.0)
    # counter only in the first half: power readings cover more of the window
    e_half = np.where(t <= 5.0, e, NAN)
    w3 = best_window(t, p, e_half, 0.0, 10.0, 5.0)
    assert w3.method == "integrated"


def test_slow_counter_short_of_the_end_still_beats_integrating_held_power() -> None:
    # Exporter refreshes every 30 s; the window ends 20 s after the last refresh.
    t = np.arange(0.0, 621.0)
    refresh = np.floor(t / 30.0) * 30.0
    e = 500.0 * refresh
    p = np.where(t < 300, 400.0, 600.0)  # held power readings disagree with the real average
    w = best_window(t, p, e, 0.0, 620.0, 5.0)
    assert w.method == "counter"
    assert w.mean_power_w == pytest.approx(500.0)
    assert w.covered_s == pytest.approx(600.0)
