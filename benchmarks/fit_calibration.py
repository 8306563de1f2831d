"""Fit the cost model's constants to the fitting set of profiles/calibration/measured-points.toml.

    python benchmarks/fit_calibration.py            # fit, print the table, the new constants
    python benchmarks/fit_calibration.py --show     # only print the table for the current constants

Coordinate descent in log space on the mean squared log error of the fitting points (a point
the model cannot reach at its speed counts as a factor-of-three miss); the validation points
are never looked at while fitting and are reported afterwards. Paste the printed [params]
into profiles/calibration/cost-model.toml.
"""

from __future__ import annotations

import argparse
import math

from agentperf_tui.core.simulator.calibration import (
    PointResult,
    error_spread,
    evaluate_all,
    load_points,
)
from agentperf_tui.core.simulator.costmodel import CostParams, load_cost_params

FITTED = (
    "mfu",
    "mfu_attention",
    "mbu",
    "alltoall_bw_scaleup",
    "alltoall_bw_network",
    "moe_tile_tokens",
    "attn_half_ctx",
    "step_overhead_ms",
    "layer_us_graph",
    "layer_us_eager",
    "alltoall_us_scaleup",
    "collective_us_network",
    "exposed_comm_scaleup",
    "mtp_draft_us",
    "dequant_efficiency",
)
BOUNDS = {
    "mfu": (0.05, 0.9),
    "mfu_attention": (0.02, 0.9),
    "alltoall_bw_scaleup": (0.02, 1.0),
    "alltoall_bw_network": (0.05, 1.0),
    "mbu": (0.3, 0.95),
    "exposed_comm_scaleup": (0.1, 1.0),
    "dequant_efficiency": (0.1, 1.0),
}


def loss(results: list[PointResult]) -> float:
    tot = 0.0
    for r in results:
        if r.simulated is None:
            tot += math.log(3.0) ** 2
        else:
            tot += math.log(r.simulated / r.point.measured) ** 2
    return tot / max(1, len(results))


def table(results: list[PointResult]) -> None:
    print(f"{'point':34} {'set':10} {'measured':>9} {'simulated':>9} {'error':>7}  shape")
    for r in results:
        sim = f"{r.simulated:9.0f}" if r.simulated is not None else "unreached"
        err = f"{r.error:+7.0%}" if math.isfinite(r.error) else "    n/a"
        print(f"{r.point.id:34} {r.point.set:10} {r.point.measured:9.0f} {sim:>9} {err}  {r.shape}")
    for s in ("fit", "validation"):
        sub = [r for r in results if r.point.set == s]
        print(
            f"{s}: {sum(r.within for r in sub)}/{len(sub)} within tolerance, rms error "
            f"{error_spread(sub):.0%}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show", action="store_true")
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    points = load_points()
    params = load_cost_params()
    if not args.show:
        fit_pts = [p for p in points if p.set == "fit"]
        best = loss(evaluate_all(params, fit_pts))
        for rnd in range(args.rounds):
            step = 1.5 if rnd < 3 else 1.15
            for name in FITTED:
                for factor in (step, 1 / step):
                    cur = getattr(params, name)
                    lo, hi = BOUNDS.get(name, (0.0, 1e6))
                    val = min(hi, max(lo, cur * factor if cur else 0.5))
                    trial = params.model_copy(update={name: val})
                    try:
                        trial = CostParams.model_validate(trial.model_dump())
                    except ValueError:
                        continue
                    cand = loss(evaluate_all(trial, fit_pts))
                    if cand < best - 1e-6:
                        best, params = cand, trial
            print(f"round {rnd + 1}: fitting loss {best:.4f}")
        print("[params]")
        for name, value in params.model_dump().items():
            print(f"{name} = {round(value, 4) if isinstance(value, float) else value}")
    table(evaluate_all(params, points))


if __name__ == "__main__":
    main()
