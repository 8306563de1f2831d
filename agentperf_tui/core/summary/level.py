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
NO_DATA = "no data"
"""The failing criterion of a level that ended with no request counted (none finished or open in
its window): it counts as a fail, but nothing says which criterion it broke, or that it broke one."""


class TierVerdict(BaseModel):
    """What one level says about one SLO tier of the run. A level's window is shared by every
    tier: each tier is judged on it with its own thresholds (and, in fast mode, its own looks)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    tier: str
    """The tier's name (`TierResult.tier_name`)."""
    speed_tok_s: Figure = NAN
    ttft_s: Figure = NAN
    used: bool = True
    """The search took this verdict for this tier: the level lay inside the tier's bracket, or
    repeated its best passing N. An unused verdict is judged all the same, for the record."""
    role: Role | None = None
    """What the level was for this tier (ramp, bisect, confirm...); None when not used."""
    speed_verdict: Verdict = "undecided"
    ttft_verdict: Verdict = "undecided"
    verdict: Verdict = "undecided"
    passed: bool = False
    """What the search took for this tier (an undecided verdict counts per undecided_as)."""
    settled: bool = False
    """Fast: this tier's verdict was settled by its confidence bounds."""
    confidence: float | None = None
    failing_criterion: str | None = None
    """"speed", "ttft" or "speed+ttft" when the level fails by point estimate; NO_DATA when it ended
    with no request counted (a fail whose criterion is unknown)."""
    speed_p25: Figure = NAN
    ttft_p95: Figure = NAN
    """The percentiles of the requests the verdict rests on (open ones censored at this tier's
    thresholds)."""
    requests: int = 0
    """Requests the verdict rests on (fewer than the level's when it settled at an earlier look)."""
    looks: int = 0
    """Fast: the look at which the verdict was taken."""

    @property
    def short_name(self) -> str:
        """The tier's S-T part ("100-5"), for lists of a run's tiers."""
        return self.tier.rpartition("/")[2]

    def word(self, *, compact: bool = False) -> str:
        """The verdict in a word or two: "pass", "fail (speed)" ("fail/speed" compact), "~pass"
        (undecided, taken as a pass), "no data" (the level ended with nothing counted), "-"
        (nothing counted yet)."""
        if self.requests == 0:
            return NO_DATA if self.failing_criterion == NO_DATA else "-"
        word = self.verdict if self.verdict != "undecided" else f"~{'pass' if self.passed else 'fail'}"
        if not self.failing_criterion or self.passed:
            return word
        return f"{word}/{self.failing_criterion}" if compact else f"{word} ({self.failing_criterion})"


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
    """Requests in the window, open ones counted (see `open_counted`)."""
    failed: int = 0
    open_counted: int = 0
    """Requests still in flight when the level was judged, counted as censored values: a pass had
    to hold with each of them counted as a miss when it could still miss."""
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
    """"speed", "ttft" or "speed+ttft" when the level fails (by point estimate), NO_DATA when it
    ended with no request counted, else None."""
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
    # What the measured window moved (requests sent in it; None: not measured, e.g. a level still
    # open, or a plan on the virtual clock).
    output_tok_s: float | None = None
    """Output tokens per second of the measured window."""
    input_tok_s: float | None = None
    """Prompt (input) tokens per second of the measured window, from the server's usage."""
    requests_per_s: float | None = None
    cache_hit_ratio: float | None = None
    """Cached prompt tokens / prompt tokens, from usage.prompt_tokens_details.cached_tokens (None
    when the server reports no cached tokens)."""
    server_prefix_hit_ratio: float | None = None
    """The server's own prefix-cache hit rate from its /metrics, mean over the measured window
    (None when it reports none)."""
    tiers: tuple[TierVerdict, ...] = ()
    """One verdict per SLO tier of the run, in the run's order; the single-tier fields above are
    the first tier's. Empty in a record stored before per-tier verdicts (a single-tier run)."""

    def for_tier(self, name: str) -> TierVerdict | None:
        """The verdict for the tier `name`; for a record without per-tier verdicts (a single-tier
        run), the record's own verdict under that name."""
        if self.tiers:
            return next((v for v in self.tiers if v.tier == name), None)
        return TierVerdict(
            tier=name,
            speed_tok_s=NAN,
            ttft_s=NAN,
            role=self.role,
            speed_verdict=self.speed_verdict,
            ttft_verdict=self.ttft_verdict,
            verdict=self.verdict,
            passed=self.passed,
            settled=self.settled,
            confidence=self.confidence,
            failing_criterion=self.failing_criterion,
            speed_p25=self.speed_p25,
            ttft_p95=self.ttft_p95,
            requests=self.requests,
            looks=self.looks,
        )

    def tiers_text(self) -> str:
        """Each tier's verdict, compactly: `30-10:pass 100-5:fail/speed 300-3:(fail)`, in brackets
        where the search did not need the level for that tier."""
        words = ((v, v.word(compact=True)) for v in self.tiers)
        return " ".join(f"{v.short_name}:{w if v.used else f'({w})'}" for v, w in words)

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

    def shown_verdict(self, *, judged: bool = True) -> str:
        """What a face shows in a level's verdict column: the verdict only once the level was
        decided ("~pass" / "~fail": undecided, taken by its point estimate; "pass (skipped)": the
        operator ended it early), else what happened to it ("open", "discarded"). `judged` False
        for a run without a tier: "measured"."""
        if self.outcome is None:
            return "open"
        if self.outcome == "discarded":
            return "discarded"
        if not judged:
            return "measured" if self.outcome == "measured" else self.outcome
        word: str = self.verdict
        if self.verdict == "undecided":
            word = "~pass" if self.passed else "~fail"
        return word if self.outcome == "measured" else f"{word} ({self.outcome})"
