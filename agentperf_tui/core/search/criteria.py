"""The two SLO criteria of a level, each judged on the requests of its measured window.

- speed: P25 of per-request output speed >= floor (a failed request has speed 0)
- ttft:  P95 of per-request TTFT <= limit (a failed request has TTFT = inf)

Each criterion gets a point estimate, order-statistic confidence bounds, and the p-values of the
two claims "it passes" / "it fails" (exact binomial tests on how many requests miss the threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from agentperf_tui.core.search import order_stats as os_
from agentperf_tui.core.search.order_stats import FloatArray
from agentperf_tui.core.summary.level import Verdict
from agentperf_tui.core.tiers import SPEED_QUANTILE, TTFT_QUANTILE

Criterion = Literal["speed", "ttft"]


@dataclass(frozen=True, slots=True)
class CriterionEval:
    criterion: Criterion
    n: int
    threshold: float
    estimate: float
    bounds: tuple[float, float]
    """One-sided (1 - alpha) lower and upper confidence bounds at the alpha it was judged with."""
    p_pass: float
    """p-value of the claim that the criterion holds (small: strong evidence it holds)."""
    p_fail: float
    """p-value of the claim that the criterion is broken."""
    alpha: float
    misses: int
    """Requests on the wrong side of the threshold (speed below the floor / TTFT above the limit)."""
    deff: float = 1.0
    """Design effect the tests were taken with (1: requests treated as independent)."""

    @property
    def leaning(self) -> Literal["pass", "fail"]:
        """The verdict of the point estimate (the published rule)."""
        if self.n == 0 or math.isnan(self.estimate):
            return "fail"
        if self.criterion == "speed":
            return "pass" if self.estimate >= self.threshold else "fail"
        return "pass" if self.estimate <= self.threshold else "fail"

    @property
    def settled(self) -> Verdict:
        """pass / fail when the binomial test settles it at `alpha`, else undecided."""
        if self.n and self.p_pass <= self.alpha:
            return "pass"
        if self.n and self.p_fail <= self.alpha:
            return "fail"
        return "undecided"

    @property
    def confidence(self) -> float:
        """One-shot confidence in the point estimate's verdict: 1 - p-value of that claim."""
        if self.n == 0:
            return 0.0
        return 1.0 - (self.p_pass if self.leaning == "pass" else self.p_fail)


def design_effect(t: FloatArray, miss: npt.NDArray[np.bool_], block_s: float | None) -> float:
    """Variance inflation of the miss fraction when requests close in time are correlated.

    Requests are grouped into time blocks of `block_s` seconds (clusters); the cluster-robust
    variance of the miss fraction divided by its variance under independence is the design
    effect (>= 1). With it, n requests weigh as n / deff independent ones."""
    n = len(t)
    if block_s is None or n < 4:
        return 1.0
    m = int(miss.sum())
    if m == 0 or m == n:
        return 1.0
    idx = np.floor((t - t.min()) / block_s).astype(np.int64)
    nb = np.bincount(idx).astype(np.float64)
    mb = np.bincount(idx, weights=miss.astype(np.float64))
    keep = nb > 0
    nb, mb = nb[keep], mb[keep]
    k = len(nb)
    if k < 2:
        return 1.0
    p = m / n
    var_cluster = k / (k - 1) * float(np.sum((mb - p * nb) ** 2)) / n**2
    var_iid = p * (1 - p) / n
    return max(1.0, var_cluster / var_iid)


def _effective(count: int, n: int, deff: float) -> tuple[int, int]:
    """Counts scaled to the effective sample size (rounded towards fewer samples)."""
    if deff <= 1.0 or n == 0:
        return count, n
    n_e = max(1, math.floor(n / deff))
    return round(count * n_e / n), n_e


def _bounds_eff(sorted_x: FloatArray, q: float, alpha: float, deff: float) -> tuple[float, float]:
    n = len(sorted_x)
    if deff <= 1.0 or n == 0:
        return os_.bounds(sorted_x, q, alpha)
    _, n_e = _effective(0, n, deff)
    i = os_.lower_index(n_e, q, alpha)
    j = os_.upper_index(n_e, q, alpha)
    lo = float(sorted_x[max(0, math.floor(i * n / n_e) - 1)]) if i is not None else -math.inf
    hi_i = math.ceil(j * n / n_e) if j is not None else None
    hi = float(sorted_x[hi_i - 1]) if hi_i is not None and hi_i <= n else math.inf
    return lo, hi


def judge_speed(
    speeds_sorted: FloatArray, floor: float, alpha: float, *, deff: float = 1.0
) -> CriterionEval:
    n = len(speeds_sorted)
    below = int(np.searchsorted(speeds_sorted, floor, side="left"))
    b_e, n_e = _effective(below, n, deff)
    return CriterionEval(
        criterion="speed",
        n=n,
        threshold=floor,
        estimate=os_.quantile(speeds_sorted, SPEED_QUANTILE),
        bounds=_bounds_eff(speeds_sorted, SPEED_QUANTILE, alpha, deff),
        p_pass=os_.p_quantile_at_least(b_e, n_e, SPEED_QUANTILE) if n else 1.0,
        p_fail=os_.p_quantile_below(b_e, n_e, SPEED_QUANTILE) if n else 1.0,
        alpha=alpha,
        misses=below,
        deff=deff,
    )


def judge_ttft(ttfts_sorted: FloatArray, limit: float, alpha: float, *, deff: float = 1.0) -> CriterionEval:
    n = len(ttfts_sorted)
    at_or_below = int(np.searchsorted(ttfts_sorted, limit, side="right"))
    a_e, n_e = _effective(at_or_below, n, deff)
    return CriterionEval(
        criterion="ttft",
        n=n,
        threshold=limit,
        estimate=os_.quantile(ttfts_sorted, TTFT_QUANTILE),
        bounds=_bounds_eff(ttfts_sorted, TTFT_QUANTILE, alpha, deff),
        p_pass=os_.p_quantile_at_most(a_e, n_e, TTFT_QUANTILE) if n else 1.0,
        p_fail=os_.p_quantile_above(a_e, n_e, TTFT_QUANTILE) if n else 1.0,
        alpha=alpha,
        misses=n - at_or_below,
        deff=deff,
    )


def judge_window(
    speeds_sorted: FloatArray,
    ttfts_sorted: FloatArray,
    t: FloatArray,
    speed_raw: FloatArray,
    ttft_raw: FloatArray,
    speed_floor: float,
    ttft_limit: float,
    alpha: float,
    block_s: float | None,
) -> tuple[CriterionEval, CriterionEval]:
    """Both criteria, each with its own design effect from the time blocks."""
    d_s = design_effect(t, speed_raw < speed_floor, block_s)
    d_t = design_effect(t, ttft_raw > ttft_limit, block_s)
    return (
        judge_speed(speeds_sorted, speed_floor, alpha, deff=d_s),
        judge_ttft(ttfts_sorted, ttft_limit, alpha, deff=d_t),
    )


def combined_verdict(speed: Verdict, ttft: Verdict) -> Verdict:
    """A level passes when both criteria pass and fails as soon as one fails."""
    if speed == "fail" or ttft == "fail":
        return "fail"
    if speed == "pass" and ttft == "pass":
        return "pass"
    return "undecided"


def failing_criterion(speed: CriterionEval, ttft: CriterionEval) -> str | None:
    """"speed", "ttft", "speed+ttft" for the criteria whose point estimate breaks the tier."""
    broke = [c.criterion for c in (speed, ttft) if c.leaning == "fail"]
    return "+".join(broke) if broke else None
