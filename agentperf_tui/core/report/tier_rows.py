"""A run's answer for each of its SLO tiers as rows of written figures, the same on every face that
lists them (result screen, `runs show`, the HTML report), with the captions that say what the
per-GPU and per-MW figures rest on."""

from __future__ import annotations

from dataclasses import dataclass

from agentperf_tui.core import fmt
from agentperf_tui.core.search.confidence_text import confidence_text
from agentperf_tui.core.summary.headline import Headline, headlines
from agentperf_tui.core.summary.model import RunSummary

POWER_WORD = {"measured": "measured", "simulated": "simulated", "nominal": "nominal (not measured)"}
"""The power a per-MW figure divides by, in a word for a table cell."""
SHORT_CRITERIA = {"speed": "speed", "ttft": "TTFT", "speed+ttft": "speed+TTFT"}


@dataclass(frozen=True, slots=True)
class TierRow:
    """One tier's answer, each figure written with core/fmt.py ("—" where there is none)."""

    head: Headline
    tier: str
    """The tier's full name, e.g. `gpt-oss-120b@rev1/250-3`."""
    short: str
    """Its S-T part ("250-3")."""
    criteria: str
    """"P25 ≥ 250 tok/s, P95 TTFT ≤ 3 s"."""
    n_star: str
    """"8", "64+" (the search reached its largest N), "0", "—"."""
    per_gpu: str
    per_mw: str
    power_w: str
    """Mean GPU power over the measured window of the level the tier's figures rest on."""
    power: str
    """That power's basis in a word or two ("simulated", "measured"), or "—"."""
    at: str
    """Where the per-level figures were measured, as the headline says it ("N*", "N=24")."""
    level: str
    """The level the figures rest on: "#5 N=8" (its place in the run and its N), or "—"."""
    confidence: str
    bound_by: str
    """What bound the search, in words: "P25 output speed (N=64 failed)"."""
    bound_short: str
    """The same, short: "speed, N=64 failed"."""


def tier_rows(summary: RunSummary) -> list[TierRow]:
    """One row per tier of the run, in the run's order (none for a run without a tier)."""
    rows = []
    for h in headlines(summary):
        tier = h.result.tier if h.result is not None else None
        if tier is None:
            continue
        capped = h.result is not None and h.result.capped
        lv = h.level
        basis = POWER_WORD.get(h.power_basis or "", fmt.DASH) if h.agents_per_mw is not None else fmt.DASH
        rows.append(
            TierRow(
                head=h,
                tier=tier.name,
                short=tier.name.rpartition("/")[2],
                criteria=tier.criteria(),
                n_star=fmt.count(h.n_star) + ("+" if capped else ""),
                per_gpu=fmt.per_gpu(h.agents_per_gpu),
                per_mw=fmt.per_mw(h.agents_per_mw),
                power_w=fmt.watts(h.mean_power_w),
                power=basis,
                at=h.at,
                level=f"#{lv.index + 1} N={lv.n}" if lv is not None else fmt.DASH,
                confidence=fmt.optional(h.confidence, confidence_text),
                bound_by=h.bound_by() or fmt.DASH,
                bound_short=_bound_short(h),
            )
        )
    return rows


def _bound_short(h: Headline) -> str:
    r = h.result
    if r is None or not r.failing_criterion:
        return fmt.DASH
    what = SHORT_CRITERIA.get(r.failing_criterion, r.failing_criterion)
    return what + (f", N={fmt.count(r.first_fail_n)} failed" if r.first_fail_n is not None else "")


def power_bases(summary: RunSummary) -> list[str]:
    """The bases of the per-MW figures of a run's tiers, in words, each once."""
    words = {POWER_WORD.get(h.power_basis, h.power_basis) for h in headlines(summary)
             if h.agents_per_mw is not None and h.power_basis}
    return sorted(words)


def per_gpu_caption(summary: RunSummary) -> str:
    """What the agents-per-GPU figures are per: "agents per GPU, of 8 GPUs" (and which, for a
    simulated deployment)."""
    gpus = summary.gpu_count
    if gpus is None:
        return "agents per GPU: GPU count unknown (give --gpus or --hardware)"
    text = f"agents per GPU, of {fmt.plural(gpus, 'GPU')}"
    if summary.simulated:
        text += f" (SIMULATED: {summary.simulator})" if summary.simulator else " (SIMULATED)"
    return text


def per_mw_caption(summary: RunSummary) -> str:
    """What the agents-per-MW figures divide by: the GPU power over the measured window of each
    tier's level, and whether it was measured, simulated or a nominal figure."""
    bases = power_bases(summary)
    if not bases:
        return "agents per MW: no GPU power reading"
    words = " / ".join(bases)
    sim = "SIMULATED run, " if summary.simulated and "simulated" not in bases else ""
    return f"agents per MW ({sim}{words} GPU power over each tier's level window)"
