"""What a run's summary says first, for every face that shows it (result screen, `runs show`,
compare, the HTML report, headless): the answer for one tier, the figures of the level it rests
on, what bound it, and the notes an operator must read before trusting it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from agentperf_tui.core import fmt
from agentperf_tui.core.summary.figures import finite_or_none
from agentperf_tui.core.summary.level import NO_DATA, LevelRecord
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.summary.result import TierResult

LAG_WARN_S = 0.05
"""Client lag p99 above this: the load generator may have shaped the numbers."""

POWER_BASIS = {
    "measured": "measured GPU power",
    "simulated": "simulated power model",
    "nominal": "nominal profile power (not measured)",
}
CRITERIA = {
    "speed": "P25 output speed",
    "ttft": "P95 TTFT",
    "speed+ttft": "P25 output speed and P95 TTFT",
    NO_DATA: "no data (no request counted)",
}


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
        if self.result is None:
            return "no result to divide: the run ended before it had an answer"
        if self.n_star == 0:
            return "no level met the tier: nothing to divide by the power"
        note = self.result.power_note or (self.level.power_note if self.level is not None else None)
        return _power_reason(note) if note else "no GPU power reading"

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


def _power_reason(note: str) -> str:
    """The part of a result's power note that says why there is no per-MW figure."""
    parts = [p for p in note.split("; ") if "per GPU" not in p and not p.startswith("GPU count unknown")]
    return "; ".join(parts) or note


def headlines(summary: RunSummary) -> list[Headline]:
    """One headline per tier of the run, in the run's order."""
    return [headline(summary, k) for k in range(len(summary.results))]


def tier_line(h: Headline) -> str:
    """One tier's answer on one line: N*, agents per GPU and per MW (with the power they rest
    on), and what bound it."""
    r = h.result
    name = (r.tier_name if r is not None else None) or "no tier"
    n = "-" if h.n_star is None else f"{fmt.count(h.n_star)}{'+' if r is not None and r.capped else ''}"
    per_gpu = "agents/GPU n/a"
    if h.agents_per_gpu is not None:
        per_gpu = f"{fmt.per_gpu(h.agents_per_gpu)} agents/GPU"
    if h.gpus is not None:
        per_gpu += f" ({fmt.plural(h.gpus, 'GPU')})"
    per_mw = f"{fmt.per_mw(h.agents_per_mw)} agents/MW" if h.agents_per_mw is not None else "agents/MW n/a"
    line = f"{name}: N*={n}, {per_gpu}, {per_mw} ({h.power_text()})"
    bound = h.bound_by()
    return line + (f", bound by {bound}" if bound else "")


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
    notes.extend(summary.incidents)
    lag = finite_or_none(summary.whole_run.client_lag_s.p99)
    if lag is not None and lag > LAG_WARN_S:
        notes.append(f"client lag p99 {lag * 1000:.0f} ms: the load generator may have shaped the numbers")
    if summary.requests.failed:
        kinds = failures_text(summary)
        notes.append(
            f"{fmt.plural(summary.requests.failed, 'failed request')} (counted against the SLO)"
            + (f": {kinds}" if kinds else "")
        )
    if summary.usage_mismatches:
        notes.append(
            f"{fmt.plural(summary.usage_mismatches, 'request')} streamed more output deltas than their "
            "usage counts tokens: the server's token count (the output speed's numerator) cannot be "
            "right for them"
        )
    several = len(summary.results) > 1
    for k, result in enumerate(summary.results):
        at = f"{result.tier_name}: " if several and result.tier_name else ""
        zero = zero_reason(summary, k)
        if zero is not None:
            notes.append(at + zero)
        if result.capped:
            notes.append(f"{at}the search reached its maximum N without failing: N* is at least this")
        notes.extend(at + note for note in result.notes)
    first = summary.result
    if first is not None:
        head = headline(summary)
        if first.gpu_count is None and any(r.n_star for r in summary.results):
            notes.append("GPU count unknown: no agents per GPU; give --gpus N or --hardware PROFILE")
        if head.agents_per_mw is None and any(r.n_star for r in summary.results):
            notes.append(f"no agents per MW: {head.power_text()}")
    return notes


def failures_text(summary: RunSummary) -> str:
    """Failed requests by kind, most first: "10 timeout, 2 stalled" (requests still open when the
    run stopped are not failures and are left out)."""
    kinds = {k: n for k, n in summary.requests.by_kind.items() if k != "open_at_end" and n}
    return ", ".join(f"{fmt.count(n)} {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]))


def zero_reason(summary: RunSummary, tier_index: int = 0) -> str | None:
    """Why a search found no level that meets a tier (the run's `tier_index`-th), in one line, from
    its levels: what the lowest level that failed that tier measured against the tier's figures."""
    if tier_index >= len(summary.results):
        return None
    result = summary.results[tier_index]
    tier = result.tier
    if result.n_star != 0 or tier is None:
        return None
    name = result.tier_name or ""
    verdicts = [(lv, lv.for_tier(name) if len(summary.results) > 1 else None) for lv in summary.levels]
    failed = [
        (lv, v) for lv, v in verdicts
        if lv.decided and (not v.passed if v is not None else not lv.passed)
    ]  # fmt: skip
    if not failed:
        return None
    lv, v = min(failed, key=lambda x: (x[0].n, -x[0].index))
    at = "a single agent" if lv.n == 1 else f"N={lv.n} (the lowest N tried)"
    if lv.requests and lv.failed == lv.requests:
        return f"N*=0: every request at {at} failed: the server did not serve the load (see the failures)"
    why: list[str] = []
    p25 = finite_or_none(v.speed_p25 if v is not None else lv.speed_p25)
    p95 = v.ttft_p95 if v is not None else lv.ttft_p95
    if p25 is not None and p25 < tier.speed_tok_s:
        who = "the single-agent speed" if lv.n == 1 else f"the speed at {at}"
        why.append(
            f"{who} is {fmt.speed(p25, floor=tier.speed_tok_s)} (P25), below the "
            f"{fmt.limit_text(tier.speed_tok_s)} tok/s floor"
        )
    if not math.isnan(p95) and p95 > tier.ttft_s:
        who = "the single-agent" if lv.n == 1 else f"at {at} the"
        why.append(
            f"{who} P95 TTFT is {fmt.seconds(p95, limit=tier.ttft_s)}, above the "
            f"{fmt.limit_text(tier.ttft_s)} s limit"
        )
    if not why:
        return None
    return "N*=0: " + " and ".join(why) + ": pick a lower tier or a faster deployment"
