"""The record of one finished concurrency level: what was measured, the verdict, and its power."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from agentperf_tui.core.observer import LevelView
from agentperf_tui.core.search.criteria import Verdict

Outcome = Literal["measured", "skipped", "ended", "discarded"]
"""measured: ended by the rules; skipped: ended early by the operator (decided on the data so far);
ended: the run ended (its duration, or an abort) before the level settled, decided on the data so
far; discarded: the operator restarted the level, its data does not count."""


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


@dataclass(frozen=True, slots=True)
class LevelRecord:
    index: int
    n: int
    role: str
    """"ramp", "bisect", "confirm", "fixed" or "sweep"."""
    outcome: Outcome
    started_at: float
    held_at: float | None
    """When all N agents were first active (end of the transition)."""
    measure_from: float | None
    """held_at + warm-up: only requests sent from here on count."""
    window_end: float | None
    """Requests sent before this count; every one of them had finished when the level ended."""
    ended_at: float
    requests: int
    failed: int
    speed_p25: float
    speed_p25_bounds: tuple[float, float]
    ttft_p95: float
    ttft_p95_bounds: tuple[float, float]
    speed_verdict: Verdict
    ttft_verdict: Verdict
    verdict: Verdict
    passed: bool
    """What the search took from this level (an undecided level counts per the plan's undecided_as)."""
    settled: bool
    """Fast: the verdict was settled by the confidence bounds (not by the time cap)."""
    confidence: float | None
    failing_criterion: str | None
    """"speed", "ttft" or "speed+ttft" when the level fails (by point estimate), else None."""
    reason: str
    trajectories_completed: int
    agents_with_min_trajectories: int
    meets_rules: bool | None
    """Strict: the published per-level requirements were met. None in fast mode."""
    looks: int = 0
    unsteady_s: float = 0.0
    """Time within the measured window during which fewer or more than N agents were active."""
    energy_j: float | None = None
    mean_power_w: float | None = None
    power_method: str | None = None
    power_simulated: bool = False
    power_note: str | None = None

    @property
    def window_s(self) -> float:
        if self.measure_from is None or self.window_end is None:
            return 0.0
        return max(0.0, self.window_end - self.measure_from)

    def to_view(self) -> LevelView:
        return LevelView(
            n=self.n,
            phase="settled",
            started_at=self.started_at,
            measure_from=self.measure_from,
            ended_at=self.ended_at,
            requests=self.requests,
            failed=self.failed,
            speed_p25=self.speed_p25,
            speed_p25_bounds=self.speed_p25_bounds,
            ttft_p95=self.ttft_p95,
            ttft_p95_bounds=self.ttft_p95_bounds,
            speed_verdict=self.speed_verdict,
            ttft_verdict=self.ttft_verdict,
            verdict=self.verdict,
            confidence=self.confidence,
            reason=self.reason,
            mean_power_w=self.mean_power_w,
            energy_j=self.energy_j,
            power_note=self.power_note,
            trajectories_completed=self.trajectories_completed,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (infinite and NaN figures become None)."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = _finite(v)
            elif isinstance(v, tuple):
                d[k] = [_finite(x) if isinstance(x, float) else x for x in v]
        d["window_s"] = self.window_s
        return d
