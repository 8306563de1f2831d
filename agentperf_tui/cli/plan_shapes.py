"""`plan` with the shape chosen from a recipe: rank candidates, search the best two, report both.

Everything printed is SIMULATED. The winner's level table goes to stderr as its levels finish;
the runner-up is searched the same way and summarised in one line; the JSON summary (stdout)
is a RunSummary of the winner's search whose `plan` part (core/summary/plan.py) names both
shapes, what bound each, and the plausible range (the calibration's error spread around N*).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence

from agentperf_tui.cli.plan import _err, _Printer, plan_summary, print_answer, write_summary
from agentperf_tui.core.search.plan import PlanError, SearchPlan
from agentperf_tui.core.search.shape_plan import (
    MAX_FACTOR,
    Candidate,
    ShapeOutcome,
    default_max_n,
    distinct_top,
    rank_shapes,
    search_shapes,
    workload_stats,
)
from agentperf_tui.core.search.virtual_run import VirtualRunError
from agentperf_tui.core.simulator.costmodel import load_cost_params
from agentperf_tui.core.simulator.profiles import ProfileError, load_hardware
from agentperf_tui.core.simulator.recipes import load_recipe
from agentperf_tui.core.summary.plan import PlanDetails, PlannedShape
from agentperf_tui.core.tiers import SloTier
from agentperf_tui.core.workload.trajectory import Trajectory


def _start_for(estimate: int, asked: int) -> int:
    """Start the ramp a factor 4 below the steady-state estimate (saves the low levels)."""
    if asked != 4 or estimate < 64:
        return asked
    return 2 ** int(math.log2(estimate / 4))


def _planned(o: ShapeOutcome, spread: float) -> PlannedShape:
    s = o.shape
    return PlannedShape(
        name=s.spec.name,
        summary=s.summary,
        gpus=s.gpu_count,
        recipe=s.spec.source,
        url=s.spec.url,
        n_star=o.result.primary.n_star,
        plausible_range=o.plausible_range(spread),
        bound=o.bound,
        estimate=o.candidate.estimate.agents,
        estimate_bound=o.candidate.estimate.bound,
        wall_time_s=round(o.wall_s, 2),
        max_n=o.max_n,
    )


def _max_origin(asked: int | None, cand: Candidate) -> str:
    if asked is not None:
        return "--max"
    return (f"default: {MAX_FACTOR:g} x the ~{cand.estimate.held:,.0f} agents its decode slots or KV cache "
            "hold at the tier's speed; --max to change")


def _tiers_text(tiers: Sequence[SloTier]) -> str:
    if len(tiers) == 1:
        return f"tier {tiers[0].name} ({tiers[0].describe()})"
    names = ", ".join(t.name for t in tiers)
    return f"{len(tiers)} tiers on shared levels ({names}; shapes ranked for {tiers[0].name})"


def main_shapes(args: argparse.Namespace, tiers: Sequence[SloTier], trajectories: list[Trajectory]) -> int:
    """Rank the recipe's shapes for the first tier (a family's loosest), then search the best two
    with every tier on shared levels."""
    tier = tiers[0]
    try:
        hw = load_hardware(args.hardware)
        recipe = load_recipe(args.model, args.hardware)
        params = load_cost_params()
    except ProfileError as e:
        return _err(str(e))
    gpus = args.gpus or hw.gpus_per_node
    if gpus < 1:
        return _err("--gpus must be at least 1")
    if args.shape_name:
        try:
            recipe.shape(args.shape_name)
        except ProfileError as e:
            return _err(str(e))
    try:  # the plan's own fields, checked before anything is printed
        SearchPlan(
            mode="search",
            rigour=args.rigour,
            tiers=tiers,
            start_n=args.start,
            max_n=args.max_n if args.max_n is not None else max(1, args.start),
            warmup_s=args.warmup_s,
            confidence=args.confidence,
        )
    except PlanError as e:
        return _err(str(e))
    stats = workload_stats(trajectories, args.tool_delay)
    cands = rank_shapes(
        recipe, gpus, tier, stats, params, shape_names=[args.shape_name] if args.shape_name else None
    )
    if not cands:
        return _err(f"no shape of {recipe.path} fits in {gpus} {hw.name} GPUs; raise --gpus")
    print(
        f"SIMULATED capacity plan: {args.model} on {gpus} {hw.name}, {_tiers_text(tiers)}, "
        f"{len(trajectories)} trajectories, {args.rigour} rigour, seed {args.seed}",
        file=sys.stderr,
    )
    print(
        f"{len(cands)} candidate shapes from {recipe.path}; best by steady-state estimate:", file=sys.stderr
    )
    for c in cands[:5]:
        print(
            f"  ~{c.estimate.agents:>6} agents ({c.estimate.bound:<16}) "
            f"{c.shape.summary} [{c.shape.spec.name}]",
            file=sys.stderr,
        )
    top = distinct_top(cands)
    jobs: list[tuple[Candidate, SearchPlan]] = []
    for cand in top:
        start = _start_for(cand.estimate.agents, args.start)
        try:
            jobs.append((cand, SearchPlan(
                mode="search",
                rigour=args.rigour,
                tiers=tiers,
                start_n=start,
                max_n=args.max_n if args.max_n is not None else default_max_n(cand.estimate.held, start),
                warmup_s=args.warmup_s,
                confidence=args.confidence,
                gpu_count=cand.shape.gpu_count,
            )))
        except PlanError as e:
            return _err(str(e))
    for cand, plan in jobs:
        print(f"  searching {cand.shape.summary} [{cand.shape.spec.name}] from N={plan.start_n} up to "
              f"N={plan.max_n:,} ({_max_origin(args.max_n, cand)})", file=sys.stderr)
    print(f"levels of {top[0].shape.summary} [{top[0].shape.spec.name}]"
          + (" (the runner-up candidate is searched alongside):" if len(top) > 1 else ":"), file=sys.stderr)
    wall0 = time.perf_counter()
    try:
        outcomes = search_shapes(
            jobs,
            trajectories,
            seed=args.seed,
            tool_delay=args.tool_delay,
            tick_s=args.tick,
            on_tick=_Printer(sys.stderr),
        )
    except VirtualRunError as e:
        return _err(str(e))
    outcomes.sort(key=lambda o: -(o.result.primary.n_star or 0))
    win = outcomes[0]
    runner = outcomes[1] if len(outcomes) > 1 else None
    spread = params.error_spread
    wall = time.perf_counter() - wall0
    details = PlanDetails(
        hardware=args.hardware,
        gpu_budget=gpus,
        candidates=len(cands),
        shape=_planned(win, spread),
        runner_up=_planned(runner, spread) if runner is not None else None,
        spread=spread,
        trajectories=tuple(t.id for t in trajectories),
        tool_delay=args.tool_delay,
        seed=args.seed,
    )
    summary = plan_summary(
        win.result,
        model=args.model,
        simulator=win.shape.label,
        gpu_count=win.shape.gpu_count,
        wall_s=wall,
        details=details,
    )
    write_summary(summary, args.out)
    for label, o in (("winner", win), ("runner-up", runner)):
        if o is None:
            print("runner-up: none (one candidate shape)", file=sys.stderr)
            continue
        lo, hi = o.plausible_range(spread)
        print(
            f"{label}: {o.shape.summary} [{o.shape.spec.name}], {o.shape.gpu_count} GPUs: SIMULATED N* = "
            f"{o.result.primary.n_star} (plausible {lo}-{hi}), bound by {o.bound}; "
            f"searched in {o.wall_s:.1f} s",
            file=sys.stderr,
        )
    print_answer(summary, win.result, wall, " for both searches")
    return 0
