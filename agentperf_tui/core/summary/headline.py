"""What a run's summary says first, for every face that shows it (result screen, `runs show`,
compare, the HTML report, headless): the answer for one tier, the figures of the level it rests
on, what bound it, and the notes an operator must read before trusting it."""

from __future__ import annotations

from dataclasses import dataclass

from agentperf_tui.core.summary.figures import finite_or_none
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.summary.result import TierResult

LAG_WARN_S = 0.05
"""Client lag p99 above this: the load generator may have shaped the numbers."""

POWER_BASIS = {
    "measured": "measured GPU power",
    "simulated": "simulated power model",
    "nominal": "nominal profile power (not measured)",
}
CRITERIA = {"speed": "P25 output speed", "ttft": "P95 TTFT", "speed+ttft": "P25 output speed and P95 TTFT"}


@dataclass(frozen=True, slots=True)
class Headline:
    result: TierResult | None
    level: LevelRecord | None
    """The level the per-level figures come from: N*'s, or the one a fixed run held."""

    @property
    def n_star(self) -> int | None:
        return self.result.n_star if self.result is not None else None

    @property
    def level_n(self) -> int | None:
        return self.level.n if self.level is not None else None

    @property
    def at(self) -> str:
        """Where the per-level figures were measured, in words: "N*" or "N=24" (a fixed run)."""
        if self.level_n is not None and self.level_n != self.n_star:
            return f"N={self.level_n}"
        return "N*"

    @property
    def gpus(self) -> int | None:
        return self.result.gpu_count if self.result is not None else None

    @property
    def agents_per_gpu(self) -> float | None:
        return self.result.agents_per_gpu if self.result is not None else None

    @property
    def agents_per_mw(self) -> float | None:
        return self.result.agents_per_mw if self.result is not None else None

    @property
    def mean_power_w(self) -> float | None:
        if self.result is not None and self.result.power_w is not None:
            return self.result.power_w
        return self.level.mean_power_w if self.level is not None else None

    @property
    def power_basis(self) -> str | None:
        return self.result.power_basis if self.result is not None else None

    def power_text(self) -> str:
        """How the per-MW figure's power was obtained, or why there is no per-MW figure."""
        if self.agents_per_mw is not None and self.power_basis is not None:
            return POWER_BASIS.get(self.power_basis, self.power_basis)
        note = (self.result.power_note if self.result is not None else "") or (
            self.level.power_note if self.level is not None else None
        )
        return note or "no GPU power reading"

    @property
    def speed_p25(self) -> float | None:
        return finite_or_none(self.level.speed_p25) if self.level is not None else None

    @property
    def ttft_p95(self) -> float | None:
        return finite_or_none(self.level.ttft_p95) if self.level is not None else None

    @property
    def error_rate_at_n(self) -> float | None:
        lv = self.level
        return lv.failed / lv.requests if lv is not None and lv.requests else None

    @property
    def confidence(self) -> float | None:
        if self.result is not None and self.result.confidence is not None:
            return self.result.confidence
        return self.level.confidence if self.level is not None else None

    def bound_by(self) -> str | None:
        """Which criterion the first failing level broke, in words."""
        r = self.result
        if r is None or not r.failing_criterion:
            return None
        at = f" (N={r.first_fail_n} failed)" if r.first_fail_n is not None else ""
        return CRITERIA.get(r.failing_criterion, r.failing_criterion) + at


def headline(summary: RunSummary, tier_index: int = 0) -> Headline:
    result = summary.results[tier_index] if tier_index < len(summary.results) else None
    level = summary.level(result.level_index) if result is not None else None
    if level is None and summary.mode == "fixed" and summary.levels:
        level = summary.levels[-1]
    return Headline(result, level)


def summary_notes(summary: RunSummary) -> list[str]:
    """What an operator must know before trusting the figures, most important first."""
    notes: list[str] = []
    if summary.simulated:
        notes.append("SIMULATED endpoint: figures come from a simulator's model, not a real server")
    if not summary.comparable:
        why = "; ".join(summary.comparability) or "the server did not honour exact output lengths"
        notes.append(f"not comparable: {why}")
    if summary.status != "finished":
        reason = f" ({summary.status_reason})" if summary.status_reason else ""
        notes.append(
            f"run {summary.status}{reason}: the result covers the levels completed before it stopped"
        )
    if not summary.final:
        notes.append("rebuilt from the store: the run never wrote its summary")
    lag = finite_or_none(summary.whole_run.client_lag_s.p99)
    if lag is not None and lag > LAG_WARN_S:
        notes.append(f"client lag p99 {lag * 1000:.0f} ms: the load generator may have shaped the numbers")
    if summary.requests.failed:
        notes.append(f"{summary.requests.failed} failed requests (counted against the SLO)")
    result = summary.result
    if result is not None:
        if result.capped:
            notes.append("the search reached its maximum N without failing: N* is at least this")
        notes.extend(result.notes)
    return notes
