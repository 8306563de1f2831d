"""The simulator's curve against published measurements (`profiles/calibration/measured-points.toml`).

Each point is a fixed-length benchmark result: total tokens/s per GPU at a per-user speed, on a
model and hardware profile. The simulator's figure for it is the best any shape of the
matching recipe reaches at that speed (`steady.pool_rates`), over every pool size the recipe
lists and every split into whole prefill and decode instances within the GPU budget of the
hardware's scale-up domain (or eight nodes for HGX systems, as the multi-node recipes use).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentperf_tui.core.simulator.costmodel import CostParams, load_cost_params
from agentperf_tui.core.simulator.profiles import ProfileError, load_hardware, load_model, profile_dirs
from agentperf_tui.core.simulator.recipes import load_recipe
from agentperf_tui.core.simulator.shapes import candidate_shapes
from agentperf_tui.core.simulator.steady import pool_rates, value_at

FIT_TOLERANCE = 0.25
VALIDATION_TOLERANCE = 0.35


class MeasuredPoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=1)]
    model: str
    hardware: str
    isl: Annotated[int, Field(gt=0)]
    osl: Annotated[int, Field(gt=0)]
    speed: Annotated[float, Field(gt=0)]
    """Tokens per second per user."""
    measured: Annotated[float, Field(gt=0)]
    """Total (input + output) tokens per second per GPU."""
    set: Literal["fit", "validation"]
    shapes: tuple[str, ...] = ()
    source: Annotated[str, Field(min_length=1)]
    url: Annotated[str, Field(pattern=r"^https?://")]
    note: str = ""
    known_miss: str = ""
    """Why the current model misses this point by more than its tolerance (empty: it does not)."""


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_: Literal["agentperf-calibration/1"] = Field(alias="schema")
    point: list[MeasuredPoint]


def calibration_file() -> Path:
    for d in profile_dirs():
        f = d / "calibration" / "measured-points.toml"
        if f.is_file():
            return f
    raise ProfileError(None, "calibration", "no calibration/measured-points.toml under the profile folders")


def load_points(path: Path | None = None) -> list[MeasuredPoint]:
    f = path or calibration_file()
    try:
        data = tomllib.loads(f.read_text(encoding="utf-8"))
        return _File.model_validate(data).point
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ProfileError(f, None, f"cannot read: {e}") from e
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise ProfileError(f, field, str(first.get("msg", "invalid value"))) from e


def budget_for(hardware: str) -> int:
    hw = load_hardware(hardware)
    return hw.scaleup_domain_gpus if hw.scaleup_domain_gpus > 8 else 8 * hw.gpus_per_node


@dataclass(frozen=True)
class PointResult:
    point: MeasuredPoint
    simulated: float | None
    shape: str

    @property
    def error(self) -> float:
        """simulated / measured - 1 (inf when the simulator cannot reach the speed at all)."""
        if self.simulated is None:
            return math.inf
        return self.simulated / self.point.measured - 1.0

    @property
    def within(self) -> bool:
        tol = FIT_TOLERANCE if self.point.set == "fit" else VALIDATION_TOLERANCE
        return abs(self.error) <= tol


def evaluate(point: MeasuredPoint, params: CostParams | None = None) -> PointResult:
    p = params or load_cost_params()
    rec = load_recipe(point.model, point.hardware)
    budget = budget_for(point.hardware)
    shapes = candidate_shapes(
        rec,
        budget,
        hardware=load_hardware(point.hardware),
        model=load_model(point.model),
        params=p,
        shape_names=list(point.shapes) or None,
    )
    # per-instance rates depend on the pool sizes only; every split of the budget into whole
    # prefill and decode instances is then a candidate (measured runs use 1-7 prefill workers)
    unique = {(s.spec.name, s.decode_gpus, s.prefill_gpus): s for s in shapes}
    best: tuple[float, str] | None = None
    for s in unique.values():
        rates = pool_rates(s, point.isl, point.osl)
        if not s.disaggregated:
            splits = [(0, s.decode_instances)]
        else:
            splits = [
                (n_p, n_d)
                for n_p in range(1, budget // s.prefill_gpus + 1)
                for n_d in range(1, (budget - n_p * s.prefill_gpus) // s.decode_gpus + 1)
            ]
        for n_p, n_d in splits:
            val = value_at(rates.per_gpu(n_p, n_d), point.speed)
            if val is not None and (best is None or val > best[0]):
                shape = replace(s, prefill_instances=n_p, decode_instances=n_d)
                best = (val, shape.summary)
    if best is None:
        return PointResult(point, None, "-")
    return PointResult(point, best[0], best[1])


def evaluate_all(
    params: CostParams | None = None, points: list[MeasuredPoint] | None = None
) -> list[PointResult]:
    p = params or load_cost_params()
    return [evaluate(pt, p) for pt in (points if points is not None else load_points())]


def error_spread(results: list[PointResult]) -> float:
    """Root-mean-square relative error (the plausible-range half-width `plan` prints)."""
    errs = [r.error for r in results if math.isfinite(r.error)]
    if not errs:
        return 0.0
    return math.sqrt(sum(e * e for e in errs) / len(errs))
