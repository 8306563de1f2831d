"""PlanDetails: what a capacity plan adds to its RunSummary when it chose the deployment shape.

`agentperf-tui plan` with a recipe ranks the recipe's shapes for a GPU budget, searches the
best two on the virtual clock and keeps the winner's levels and result in the summary; this
part says which shape won, which came second, what bound each, and the plausible range around
each N* (every figure simulated).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PlannedShape(_Shape):
    """One searched deployment shape and its simulated answer."""

    name: str
    """The shape's name in its recipe."""
    summary: str
    """Pools, parallelism and options, e.g. '2 x DEP8 prefill + 1 x DEP16 decode, MTP 3, FP8 KV'."""
    gpus: int
    recipe: str
    """The public serving recipe the shape follows."""
    url: str
    n_star: int | None
    """Simulated N* at the tier (from its virtual-clock search)."""
    plausible_range: tuple[int, int]
    """N* x exp(-spread) .. N* x exp(+spread), spread from the calibration (`PlanDetails`)."""
    bound: str
    """What limited it at its first failing N: batch cap, KV memory, decode bandwidth, prefill
    compute, TTFT queueing (or none up to the search's largest N)."""
    max_n: int | None = None
    """The largest N its search could try: `--max`, or by default twice the agents its decode
    slots (or KV cache) hold at the tier's speed in the steady-state estimate."""
    estimate: int
    """Agents the steady-state ranking estimated before the search."""
    estimate_bound: str
    """The limit the steady-state ranking expected to bind."""
    wall_time_s: float
    """Wall time of this shape's search."""


class PlanDetails(_Shape):
    hardware: str
    """Hardware profile name."""
    gpu_budget: int
    """GPUs the shapes were chosen to fill."""
    candidates: int
    """Shapes (recipe shape x pool sizes x instance counts) ranked."""
    shape: PlannedShape
    """The winner: its levels and result are the summary's."""
    runner_up: PlannedShape | None = None
    spread: float
    """Half-width of the plausible range in log space: the rms log error of the calibration."""
    trajectories: tuple[str, ...] = ()
    tool_delay: str = "recorded"
    seed: int = 0
