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

from agentperf_tui.core.search import order_stats as os_
from agentperf_tui.core.search.order_stats import FloatArray
from agentperf_tui.core.search.tiers import SPEED_QUANTILE, TTFT_QUANTILE

Verdict = Literal["pass", "fail", "undecided"]
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


def judge_speed(speeds_sorted: FloatArray, floor: float, alpha: float) -> CriterionEval:
    n = len(speeds_sorted)
    below = int(np.searchsorted(speeds_sorted, floor, side="left"))
    return CriterionEval(
        criterion="speed",
        n=n,
        threshold=floor,
        estimate=os_.quantile(speeds_sorted, SPEED_QUANTILE),
        bounds=os_.bounds(speeds_sorted, SPEED_QUANTILE, alpha),
        p_pass=os_.p_quantile_at_least(below, n, SPEED_QUANTILE) if n else 1.0,
        p_fail=os_.p_quantile_below(below, n, SPEED_QUANTILE) if n else 1.0,
        alpha=alpha,
        misses=below,
    )


def judge_ttft(ttfts_sorted: FloatArray, limit: float, alpha: float) -> CriterionEval:
    n = len(ttfts_sorted)
    at_or_below = int(np.searchsorted(ttfts_sorted, limit, side="right"))
    return CriterionEval(
        criterion="ttft",
        n=n,
        threshold=limit,
        estimate=os_.quantile(ttfts_sorted, TTFT_QUANTILE),
        bounds=os_.bounds(ttfts_sorted, TTFT_QUANTILE, alpha),
        p_pass=os_.p_quantile_at_most(at_or_below, n, TTFT_QUANTILE) if n else 1.0,
        p_fail=os_.p_quantile_above(at_or_below, n, TTFT_QUANTILE) if n else 1.0,
        alpha=alpha,
        misses=n - at_or_below,
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
