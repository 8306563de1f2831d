"""The answer of a run for one SLO tier: N*, its normalisations, and what bound it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, computed_field

from agentperf_tui.core.summary.normalise import PowerBasis
from agentperf_tui.core.tiers import SloTier


class TierResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    tier: SloTier | None
    """None: a fixed-N run without a tier (levels measured, no verdict)."""
    n_star: int | None
    """Highest N that met the tier (0: none did; None: no answer, e.g. a fixed run that missed
    the tier, a run without a tier, or a search cut short)."""
    level_n: int | None = None
    """The N whose level gives the per-level figures: N*, or the N a fixed run held."""
    level_index: int | None = None
    """Index (in the run's levels) of that level."""
    gpu_count: int | None = None
    agents_per_gpu: float | None = None
    agents_per_mw: float | None = None
    power_w: float | None = None
    """Mean GPU power (all GPUs) over the level's measured window: the per-MW divisor."""
    power_basis: PowerBasis | None = None
    """"measured", "simulated" or "nominal" (a profile figure, not measured); None: no figure."""
    power_note: str = ""
    first_fail_n: int | None = None
    """Lowest N that failed (None when none did)."""
    failing_criterion: str | None = None
    """What broke first_fail_n: "speed", "ttft" or "speed+ttft"; "no data" when that level ended with
    no request counted (counted as a fail; the notes say N* may be higher)."""
    confidence: float | None = None
    """The weaker of the confidences of N*'s level and the first failing level."""
    converged: bool = False
    capped: bool = False
    """The search reached its largest N without failing: N* is at least this."""
    notes: tuple[str, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tier_name(self) -> str | None:
        return self.tier.name if self.tier is not None else None
