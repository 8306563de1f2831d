"""Distribution-free statistics for one percentile: point estimate, order-statistic confidence
bounds and the binomial tests behind the fast mode's early stopping.

The number of samples at or below the true p-quantile is Binomial(n, p) whatever the
distribution, so order statistics give confidence bounds on a percentile without any model of
the data (the approach MLPerf LoadGen's early stopping uses). Samples are assumed independent.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@lru_cache(maxsize=64)
def _binom_tables(n: int, p: float) -> tuple[FloatArray, FloatArray]:
    """(cdf, sf) with cdf[k] = P(X <= k) and sf[k] = P(X >= k), X ~ Binomial(n, p), k = 0..n.

    Exact up to floating point: log pmf from the ratio recurrence, normalised in log space,
    with the two tails summed from opposite ends so small tail probabilities keep their digits.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0.0 < p < 1.0:
        raise ValueError("p must be strictly between 0 and 1")
    k = np.arange(n + 1, dtype=np.float64)
    log_comb = np.zeros(n + 1)
    if n:
        log_comb[1:] = np.cumsum(np.log(n - k[1:] + 1.0) - np.log(k[1:]))
    logpmf = log_comb + k * math.log(p) + (n - k) * math.log1p(-p)
    pmf = np.exp(logpmf - logpmf.max())
    pmf /= pmf.sum()
    cdf = np.minimum(np.cumsum(pmf), 1.0)
    sf = np.minimum(np.cumsum(pmf[::-1])[::-1], 1.0)
    cdf.flags.writeable = False
    sf.flags.writeable = False
    return cdf, sf


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return float(_binom_tables(n, p)[0][k])


def binom_sf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) >= k)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return float(_binom_tables(n, p)[1][k])


def quantile(sorted_x: FloatArray, q: float) -> float:
    """The q-quantile by linear interpolation between order statistics (numpy's default,
    Hyndman-Fan type 7), safe with infinite values (a failed request's TTFT is +inf)."""
    n = len(sorted_x)
    if n == 0:
        return math.nan
    h = (n - 1) * q
    lo = math.floor(h)
    frac = h - lo
    a = float(sorted_x[lo])
    if frac == 0.0 or lo + 1 >= n:
        return a
    b = float(sorted_x[lo + 1])
    if a == b:
        return a
    if math.isinf(b) or math.isinf(a):
        return b if math.isinf(b) else a
    return a + frac * (b - a)


def upper_index(n: int, q: float, alpha: float) -> int | None:
    """Smallest 1-based j with P(X_(j) >= true q-quantile) >= 1 - alpha, None when n is too small."""
    if n == 0:
        return None
    cdf = _binom_tables(n, q)[0]
    j = int(np.searchsorted(cdf, 1.0 - alpha, side="left")) + 1
    return j if j <= n else None


def lower_index(n: int, q: float, alpha: float) -> int | None:
    """Largest 1-based i with P(X_(i) <= true q-quantile) >= 1 - alpha, None when n is too small."""
    if n == 0:
        return None
    cdf = _binom_tables(n, q)[0]
    i = int(np.searchsorted(cdf, alpha, side="right"))
    return i if i >= 1 else None


def bounds(sorted_x: FloatArray, q: float, alpha: float) -> tuple[float, float]:
    """One-sided (1 - alpha) lower and upper confidence bounds on the q-quantile; -inf / +inf
    where the sample is too small to bound that side."""
    n = len(sorted_x)
    i = lower_index(n, q, alpha)
    j = upper_index(n, q, alpha)
    lo = float(sorted_x[i - 1]) if i is not None else -math.inf
    hi = float(sorted_x[j - 1]) if j is not None else math.inf
    return lo, hi


def p_quantile_at_most(n_at_or_below: int, n: int, q: float) -> float:
    """p-value for the claim "the q-quantile is <= x" given that n_at_or_below of n samples are <= x.

    Under the opposite (P(X <= x) < q) the count is stochastically below Binomial(n, q)."""
    return binom_sf(n_at_or_below, n, q)


def p_quantile_above(n_at_or_below: int, n: int, q: float) -> float:
    """p-value for the claim "the q-quantile is > x" (P(X <= x) < q)."""
    return binom_cdf(n_at_or_below, n, q)


def p_quantile_at_least(n_below: int, n: int, q: float) -> float:
    """p-value for the claim "the q-quantile is >= x" given that n_below of n samples are < x.

    Under the opposite (P(X < x) > q) the count is stochastically above Binomial(n, q)."""
    return binom_cdf(n_below, n, q)


def p_quantile_below(n_below: int, n: int, q: float) -> float:
    """p-value for the claim "the q-quantile is < x" (P(X < x) > q)."""
    return binom_sf(n_below, n, q)
