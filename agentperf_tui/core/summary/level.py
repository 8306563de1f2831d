"""One concurrency level of a run, live or finished: the single shape the controller publishes,
the store keeps, the summary lists and every screen draws."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from agentperf_tui.core.summary.figures import NAN, Figure

Verdict = Literal["pass", "fail", "undecided"]
Phase = Literal["transition", "warmup", "measuring", "settled"]
"""transition: agents joining or retiring; warmup: all N active, requests do not count yet;
measuring: requests sent from `measure_from` count; settled: the level has ended."""
Outcome = Literal["measured", "skipped", "ended", "discarded"]
"""measured: ended by the rules; skipped: ended early by the operator (decided on the data so far);
ended: the run ended (its duration, or an abort) before the level settled, decided on the data so
far; discarded: the operator restarted the level, its data does not count."""
Role = Literal["ramp", "bisect", "confirm", "fixed", "sweep", "hand"]
"""Why the level was run: a step of the search, a fixed or sweep level, or N set by hand."""


class LevelRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    index: int
    """Position in the run (0-based); requests are stored under it."""
    n: int
    role: Role = "fixed"
    phase: Phase = "settled"
    outcome: Outcome | None = None
    """None while the level is still open."""
    started_at: Figure
    held_at: float | None = None
    """When all N agents were first active (end of the transition)."""
    measure_from: float | None = None
    """held_at + warm-up: only requests sent from here on count."""
    window_end: float | None = None
    """Requests sent before this count; each was finished or accounted for when the level ended."""
    ended_at: float | None = None
    requests: int = 0
    failed: int = 0
    speed_p25: Figure = NAN
    speed_p25_bounds: tuple[Figure, Figure] = (NAN, NAN)
    ttft_p95: Figure = NAN
    ttft_p95_bounds: tuple[Figure, Figure] = (NAN, NAN)
    speed_verdict: Verdict = "undecided"
    ttft_verdict: Verdict = "undecided"
    verdict: Verdict = "undecided"
    passed: bool = False
    """What the search took from this level (an undecided level counts per the plan's undecided_as)."""
    settled: bool = False
    """Fast: the verdict was settled by the confidence bounds (not by the time cap)."""
    confidence: float | None = None
    failing_criterion: str | None = None
    """"speed", "ttft" or "speed+ttft" when the level fails (by point estimate), else None."""
    reason: str = ""
    """Which criterion decided it, why the level stopped, or (live) what it is waiting for."""
    trajectories_completed: int = 0
    agents_with_min_trajectories: int = 0
    meets_rules: bool | None = None
    """Strict: the published per-level requirements were met. None in fast mode."""
    looks: int = 0
    unsteady_s: float = 0.0
    """Time within the measured window during which fewer or more than N agents were active."""
    energy_j: float | None = None
    mean_power_w: float | None = None
    """Mean GPU power (all GPUs) over the measured window."""
    power_method: str | None = None
    power_simulated: bool = False
    power_note: str | None = None

    @property
    def window_s(self) -> float:
        if self.measure_from is None or self.window_end is None:
            return 0.0
        return max(0.0, self.window_end - self.measure_from)

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    @property
    def decided(self) -> bool:
        """The level ended and its verdict counts (not discarded)."""
        return self.outcome is not None and self.outcome != "discarded"
