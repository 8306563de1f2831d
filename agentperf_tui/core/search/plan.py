"""What a concurrency run should do: search, fixed N or a sweep; strict or fast; and the rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agentperf_tui.core.tiers import SloTier

Mode = Literal["search", "fixed", "sweep"]
Rigour = Literal["strict", "fast"]

PUBLISHED_WARMUP_S = 30.0
PUBLISHED_MIN_STEADY_S = 600.0
PUBLISHED_MIN_TRAJECTORIES = 30
PUBLISHED_MIN_PER_AGENT = 3
FAST_WARMUP_S = 10.0


class PlanError(ValueError):
    """A search plan field is out of range; the message names the field."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(f"search plan field '{field_name}': {message}")


@dataclass(frozen=True)
class SearchPlan:
    mode: Mode = "search"
    rigour: Rigour = "fast"
    tier: SloTier | None = None
    """The first (or only) tier; None only for a fixed-N level run without a verdict."""
    tiers: Sequence[SloTier] = ()
    """Every tier the run is judged against, `tier` first; each level is judged against each
    tier it is relevant to. Give `tier` or `tiers` (or both, `tier` being `tiers[0]`)."""
    start_n: int = 4
    max_n: int = 4096
    budget_s: float | None = None
    """Search: seconds from its start after which the search ends with the bracket it has (the
    open level is discarded unless it decides at that moment); None: no limit."""
    fixed_n: int | None = None
    sweep: Sequence[int] | None = None
    tolerance_frac: float = 0.05
    tolerance_abs: int = 1
    """Bisection stops when (lowest fail - highest pass) <= max(tolerance_abs, tolerance_frac * pass)."""
    ramp_factor: float = 2.0
    confirm: bool = True
    """Run the final level a second time; a level that fails its confirmation counts as failing."""
    warmup_s: float | None = None
    """Seconds a level holds at N before requests count; None: 30 s strict, 10 s fast."""
    min_steady_s: float = PUBLISHED_MIN_STEADY_S
    min_trajectories: int = PUBLISHED_MIN_TRAJECTORIES
    min_trajectories_per_agent: int = PUBLISHED_MIN_PER_AGENT
    strict_cap_s: float = 3600.0
    """Strict: a level still short of its trajectory counts after this long ends, marked as such."""
    fast_min_s: float = 60.0
    """Fast: shortest measured window before the verdict may be settled."""
    fast_min_trajectories_per_agent: float = 0.0
    """Fast: completed trajectories the window must hold before a verdict, per agent on average."""
    block_s: float | None = 20.0
    """Time blocks for the cluster-robust confidence bounds (requests close in time are correlated
    through the server's state); None treats requests as independent."""
    fast_cap_s: float = 300.0
    """Fast: longest measured window; an unsettled level then ends undecided."""
    hold_leaving_fraction: float = 0.01
    """A level holds (its warm-up starts) once all N agents are active and at most this fraction
    of N agents retired by the change of N still have requests in flight: until then the
    deployment serves more than N agents. 0: wait for every one of them."""
    cap_open_fraction: float = 0.01
    """Fast, at the cap: the window the level ends on may run past requests still in flight that
    could yet meet the tier, as long as they are at most this fraction of its requests; they are
    counted as censored values (a pass must hold with each as a miss, a fail with each as meeting
    the tier). 0: the window ends at the oldest of them, as at the looks before the cap."""
    min_requests: int = 30
    confidence: float = 0.95
    """Fast: probability that an early-stopped level's verdict is right (over all its looks)."""
    look_growth: float = 1.25
    """Fast: the verdict is re-examined each time the window's request count grows by this factor."""
    undecided_as: Literal["estimate", "fail"] = "estimate"
    """How the search treats a level that ends undecided: by its point estimate, or as a fail."""
    gpu_count: int | None = None
    nominal_gpu_power_w: float | None = None
    """A profile's nominal GPU power, used for agents per megawatt only when nothing was measured
    (and labelled as nominal)."""
    max_levels: int = 64
    level_timeout_s: float | None = None
    """A level that has not closed after this long (from its start) ends with what it has.
    None: strict_cap_s + 600 strict, fast_cap_s + 600 fast."""

    def __post_init__(self) -> None:
        tiers = tuple(self.tiers)
        if not tiers and self.tier is not None:
            tiers = (self.tier,)
        object.__setattr__(self, "tiers", tiers)
        if self.tier is None and tiers:
            object.__setattr__(self, "tier", tiers[0])
        if self.sweep is not None:
            object.__setattr__(self, "sweep", tuple(int(n) for n in self.sweep))
        self._validate()

    @property
    def warmup(self) -> float:
        if self.warmup_s is not None:
            return self.warmup_s
        return PUBLISHED_WARMUP_S if self.rigour == "strict" else FAST_WARMUP_S

    @property
    def timeout(self) -> float:
        if self.level_timeout_s is not None:
            return self.level_timeout_s
        return (self.strict_cap_s if self.rigour == "strict" else self.fast_cap_s) + 600.0

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    @property
    def published_rules(self) -> bool:
        """Strict and at least as demanding as the published method."""
        return (
            self.rigour == "strict"
            and self.warmup >= PUBLISHED_WARMUP_S
            and self.min_steady_s >= PUBLISHED_MIN_STEADY_S
            and self.min_trajectories >= PUBLISHED_MIN_TRAJECTORIES
            and self.min_trajectories_per_agent >= PUBLISHED_MIN_PER_AGENT
        )

    def _validate(self) -> None:
        if self.mode not in ("search", "fixed", "sweep"):
            raise PlanError("mode", f"expected search, fixed or sweep, got {self.mode!r}")
        if self.rigour not in ("strict", "fast"):
            raise PlanError("rigour", f"expected strict or fast, got {self.rigour!r}")
        if self.tiers and self.tier != self.tiers[0]:
            raise PlanError("tier", "must be the first of tiers (or left out)")
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise PlanError("tiers", f"a tier is listed twice: {', '.join(names)}")
        if self.tier is None and self.mode != "fixed":
            raise PlanError("tier", f"mode {self.mode!r} needs an SLO tier")
        if self.max_n < 1:
            raise PlanError("max_n", "must be >= 1")
        if self.budget_s is not None and not self.budget_s > 0:
            raise PlanError("budget_s", "must be a positive number of seconds")
        if self.start_n < 1:
            raise PlanError("start_n", "must be >= 1")
        if self.mode == "fixed" and (self.fixed_n is None or self.fixed_n < 1):
            raise PlanError("fixed_n", "fixed mode needs fixed_n >= 1")
        if self.mode == "sweep" and (not self.sweep or min(self.sweep) < 1):
            raise PlanError("sweep", "sweep mode needs a non-empty list of N >= 1")
        if not 0 <= self.tolerance_frac < 1:
            raise PlanError("tolerance_frac", "must be in [0, 1)")
        if self.tolerance_abs < 1:
            raise PlanError("tolerance_abs", "must be >= 1")
        if self.ramp_factor <= 1:
            raise PlanError("ramp_factor", "must be > 1")
        if not 0.5 < self.confidence < 1:
            raise PlanError("confidence", "must be between 0.5 and 1 (e.g. 0.95)")
        if self.look_growth <= 1:
            raise PlanError("look_growth", "must be > 1")
        if self.warmup < 0:
            raise PlanError("warmup_s", "must be >= 0")
        for name in ("min_steady_s", "fast_min_s", "fast_cap_s", "strict_cap_s"):
            if getattr(self, name) < 0:
                raise PlanError(name, "must be >= 0")
        if self.fast_cap_s < self.fast_min_s:
            raise PlanError("fast_cap_s", "must be >= fast_min_s")
        if not 0 <= self.hold_leaving_fraction < 0.25:
            raise PlanError("hold_leaving_fraction", "must be in [0, 0.25), e.g. 0.01")
        if not 0 <= self.cap_open_fraction < 0.25:
            raise PlanError("cap_open_fraction", "must be in [0, 0.25), e.g. 0.01")
        if self.fast_min_trajectories_per_agent < 0:
            raise PlanError("fast_min_trajectories_per_agent", "must be >= 0")
        if self.block_s is not None and self.block_s <= 0:
            raise PlanError("block_s", "must be > 0 (or None)")
        if self.min_requests < 1:
            raise PlanError("min_requests", "must be >= 1")
        if self.gpu_count is not None and self.gpu_count < 1:
            raise PlanError("gpu_count", "must be >= 1")
        if self.nominal_gpu_power_w is not None and not self.nominal_gpu_power_w > 0:
            raise PlanError("nominal_gpu_power_w", "must be > 0")
        if self.max_levels < 1:
            raise PlanError("max_levels", "must be >= 1")
