"""Binomial tables, order-statistic bounds and percentile estimates against exact references."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from agentperf_tui.core.search import order_stats as os_


def _exact_cdfs(n: int, p: Fraction) -> list[Fraction]:
    """cdf[k] = P(X <= k) in exact rational arithmetic."""
    out, acc = [], Fraction(0)
    for i in range(n + 1):
        acc += math.comb(n, i) * p**i * (1 - p) ** (n - i)
        out.append(acc)
    return out


CASES = [(1, Fraction(1, 4)), (30, Fraction(1, 4)), (80, Fraction(19, 20)), (200, Fraction(1, 20))]


@pytest.mark.parametrize("n,p", CASES)
def test_binomial_cdf_matches_exact_sums(n: int, p: Fraction) -> None:
    cdf = _exact_cdfs(n, p)
    for k in range(-1, n + 2):
        exact = float(cdf[min(k, n)]) if k >= 0 else 0.0
        assert os_.binom_cdf(k, n, float(p)) == pytest.approx(exact, rel=1e-9, abs=1e-300)
        exact_sf = float(1 - cdf[k - 1]) if 1 <= k <= n + 1 else (1.0 if k < 1 else 0.0)
        assert os_.binom_sf(k, n, float(p)) == pytest.approx(exact_sf, rel=1e-9, abs=1e-15)


def test_small_tails_keep_precision_for_large_n() -> None:
    # P(Bin(5000, 0.95) >= 5000) = 0.95**5000: far below double epsilon relative to 1
    assert os_.binom_sf(5000, 5000, 0.95) == pytest.approx(0.95**5000, rel=1e-6)
    assert os_.binom_cdf(0, 5000, 0.05) == pytest.approx(0.95**5000, rel=1e-6)


def test_quantile_is_numpy_linear_and_inf_safe() -> None:
    rng = np.random.default_rng(1)
    x = np.sort(rng.lognormal(size=101))
    for q in (0.0, 0.25, 0.5, 0.95, 1.0):
        assert os_.quantile(x, q) == pytest.approx(float(np.quantile(x, q)))
    y = np.array([1.0, 2.0, math.inf, math.inf])
    assert os_.quantile(y, 0.95) == math.inf
    assert os_.quantile(np.array([1.0, 2.0, 3.0, math.inf]), 0.5) == pytest.approx(2.5)
    assert math.isnan(os_.quantile(np.array([]), 0.5))


def test_bound_indices_meet_their_coverage_and_are_tightest() -> None:
    for n in (5, 30, 137, 1000):
        for q in (0.25, 0.95):
            alpha = 0.05
            j = os_.upper_index(n, q, alpha)
            if j is not None:
                assert os_.binom_cdf(j - 1, n, q) >= 1 - alpha
                assert j == 1 or os_.binom_cdf(j - 2, n, q) < 1 - alpha
            i = os_.lower_index(n, q, alpha)
            if i is not None:
                assert os_.binom_sf(i, n, q) >= 1 - alpha
                assert i == n or os_.binom_sf(i + 1, n, q) < 1 - alpha
    # 30 samples cannot bound the P95 from above at 95%: 0.95**30 > 0.05
    assert os_.upper_index(30, 0.95, 0.05) is None
    assert os_.upper_index(59, 0.95, 0.05) == 59


def test_bounds_cover_the_true_quantile_at_the_stated_rate() -> None:
    rng = np.random.default_rng(7)
    q, alpha, n, trials = 0.95, 0.05, 200, 2000
    true_q = -math.log(1 - q)  # exponential(1)
    hi_miss = lo_miss = 0
    for _ in range(trials):
        x = np.sort(rng.exponential(size=n))
        lo, hi = os_.bounds(x, q, alpha)
        hi_miss += hi < true_q
        lo_miss += lo > true_q
    assert hi_miss / trials <= alpha + 0.015
    assert lo_miss / trials <= alpha + 0.015
    assert hi_miss > 0 and lo_miss > 0  # not vacuous: the bounds are close to tight


def test_design_effect_is_one_for_independent_requests_and_large_for_bursts() -> None:
    from agentperf_tui.core.search.criteria import design_effect, judge_ttft

    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 600, 6000))
    iid = rng.uniform(size=t.size) < 0.05
    assert 0.6 < design_effect(t, iid, 20.0) < 1.6
    assert design_effect(t, iid, None) == 1.0
    # misses come in bursts: whole minutes with 12% misses, then minutes with none
    bursty = (np.floor(t / 60) % 2 == 0) & (rng.uniform(size=t.size) < 0.12)
    d = design_effect(t, bursty, 20.0)
    assert d > 5
    # 5.7% of TTFTs over the limit, all in bursts: treated as independent, 6000 requests would
    # settle "P95 above the limit"; weighed as n / deff they do not, and the bounds widen
    ttft = np.where(bursty, 10.0, 1.0)
    plain = judge_ttft(np.sort(ttft), 5.0, 0.01)
    robust = judge_ttft(np.sort(ttft), 5.0, 0.01, deff=d)
    assert plain.settled == "fail" and robust.settled == "undecided"
    assert robust.p_fail > 10 * plain.p_fail
    assert plain.bounds == (10.0, 10.0) and robust.bounds == (1.0, 10.0)
