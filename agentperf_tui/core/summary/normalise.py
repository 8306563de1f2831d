"""Agents per GPU and agents per megawatt for the search result.

agents per GPU = N* / GPU count.
agents per MW  = N* / (mean GPU power over N*'s measured window, in MW), where the mean power
is the energy counter delta over the window divided by its duration, GPU power only. Without a
measured reading the figure is None with the reason, unless a nominal per-GPU power was given,
in which case it is used and labelled "nominal".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PowerBasis = Literal["measured", "simulated", "nominal"]


@dataclass(frozen=True, slots=True)
class Normalised:
    agents_per_gpu: float | None
    agents_per_mw: float | None
    power_w: float | None
    """The GPU power the per-MW figure divides by (all GPUs together)."""
    power_basis: PowerBasis | None
    note: str


def normalise(
    n_star: int | None,
    gpu_count: int | None,
    mean_power_w: float | None,
    *,
    power_simulated: bool = False,
    power_note: str | None = None,
    nominal_gpu_power_w: float | None = None,
) -> Normalised:
    per_gpu = None if (n_star is None or gpu_count is None) else n_star / gpu_count
    notes: list[str] = []
    if gpu_count is None:
        notes.append("GPU count unknown: no agents per GPU")
    if n_star is None:
        return Normalised(per_gpu, None, None, None, "no result to normalise")
    if n_star == 0:
        notes.append("no level met the tier")
    if mean_power_w is not None and mean_power_w > 0:
        basis: PowerBasis = "simulated" if power_simulated else "measured"
        label = "simulated power model" if power_simulated else "measured GPU power"
        notes.append(f"{label}: mean {mean_power_w:.0f} W over N*'s measured window")
        if power_note:
            notes.append(power_note)
        return Normalised(per_gpu, n_star / (mean_power_w / 1e6), mean_power_w, basis, "; ".join(notes))
    missing = power_note or "no GPU power reading for N*'s measured window"
    if nominal_gpu_power_w is not None and gpu_count is not None:
        total = nominal_gpu_power_w * gpu_count
        notes.append(
            f"NOMINAL power from the profile ({nominal_gpu_power_w:.0f} W per GPU x {gpu_count}), "
            f"not measured ({missing})"
        )
        return Normalised(per_gpu, n_star / (total / 1e6), total, "nominal", "; ".join(notes))
    notes.append(f"agents per MW not available: {missing}")
    return Normalised(per_gpu, None, None, None, "; ".join(notes))
