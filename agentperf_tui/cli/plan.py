"""`agentperf-tui plan`: how many agents would this deployment hold at this tier?

Runs the concurrency search against the simulator's engine model on a virtual clock (no HTTP,
no waiting): the level table goes to stderr as levels finish, the JSON summary to stdout.
Every figure is SIMULATED: a capacity plan, not a measurement. When the model has a recipe
for the hardware and no explicit replica shape is given, the deployment shape is chosen from
the recipe (cli/plan_shapes.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from agentperf_tui.cli.common import concurrency_list
from agentperf_tui.core import fmt
from agentperf_tui.core.data_paths import resolve_trajectories
from agentperf_tui.core.search.controller import SearchController
from agentperf_tui.core.search.plan import Mode, PlanError, SearchPlan
from agentperf_tui.core.search.result import SearchResult
from agentperf_tui.core.search.virtual_run import VirtualRunError, run_search_virtual
from agentperf_tui.core.summary.headline import headlines, tier_line
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.summary.plan import PlanDetails
from agentperf_tui.core.tiers import SloProfileError, TierSpecError, parse_tiers
from agentperf_tui.core.workload.trajectory import TrajectoryError, load_set


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "plan",
        help="capacity plan on the simulator's virtual clock: how many agents a deployment holds at a tier",
        description=(
            "Search for the highest number of concurrent agents a SIMULATED deployment serves within an SLO "
            "tier, in seconds of wall time. Levels are printed to stderr, the JSON summary to stdout."
        ),
    )
    p.add_argument("--hardware", required=True, help="hardware profile (profiles/hardware), e.g. h200-sxm")
    p.add_argument("--sim-model", dest="model", required=True,
                   help="model profile name (profiles/models), e.g. gpt-oss-120b")
    p.add_argument("--tier", required=True,
                   help="SLO tier: a name such as deepseek-v4-pro@2026-06/100-5, or S/T for a custom one; "
                        "a family (deepseek-v4-pro@2026-06: every tier of it, on shared levels) "
                        "or a list (30/10,100/5)")
    p.add_argument("--trajectories", default="trajectories/quick", help="trajectory file or directory")
    p.add_argument("--rigour", choices=["fast", "strict"], default="fast")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gpus", type=int,
                   help="GPU budget the deployment shape is chosen for (default: one node or NVLink "
                        "domain of the hardware, e.g. 8 for H200, 72 for GB300 NVL72)")
    p.add_argument("--shape", dest="shape_name",
                   help="only this named shape of the recipe (profiles/recipes/MODEL/HARDWARE.toml)")
    p.add_argument("--replicas", type=int,
                   help="explicit shape instead of a recipe: serving replicas (default 1)")
    p.add_argument("--gpus-per-replica", type=int,
                   help="explicit shape instead of a recipe: GPUs per replica (default: the fewest "
                        "that hold the model)")
    p.add_argument("--tool-delay", choices=["recorded", "baseline"], default="recorded",
                   help="tool-call delay: as recorded, or the AgentPerf baseline (0.1-5 s, median ~1 s)")
    p.add_argument("-n", "--start", type=int, default=4, help="starting guess for N")
    p.add_argument("--max", type=int, dest="max_n",
                   help="largest N to try (default: twice the agents the deployment's decode slots or KV "
                        "cache hold at the tier's speed, from its steady-state estimate)")
    p.add_argument("--sweep", type=concurrency_list, help="run these N instead of searching, e.g. 4,8,16")
    p.add_argument("--fixed", type=int, help="run one level at this N")
    p.add_argument("--warmup", type=float, dest="warmup_s",
                   help="seconds a level holds before requests count (default 30 strict, 10 fast)")
    p.add_argument("--confidence", type=float, default=0.95, help="fast mode: confidence of early verdicts")
    p.add_argument("--tick", type=float, default=1.0, help="virtual seconds between controller ticks")
    p.add_argument("--out", help="also write the JSON summary to this file")
    p.set_defaults(func=main)


def _err(msg: str) -> int:
    print(f"agentperf-tui plan: {msg}", file=sys.stderr)
    return 2


HEADER = (
    f"{'#':>3} {'N':>6} {'role':<8} {'verdict':<9} {'P25 tok/s':>9} {'P95 TTFT':>9} {'req':>7} "
    f"{'fail':>5} {'window':>7} {'conf':>5} {'power W':>9}  note"
)


def level_row(r: LevelRecord) -> str:
    verdict = r.shown_verdict(judged=True)
    note = r.failing_criterion or ""
    if r.meets_rules is False:
        note = (note + " rules-not-met").strip()
    if len(r.tiers) > 1:
        note = r.tiers_text() + (f"  {note}" if note else "")
    return (
        f"{r.index + 1:>3} {r.n:>6} {r.role:<8} {verdict:<9} {fmt.number(r.speed_p25, 1):>9} "
        f"{fmt.number(r.ttft_p95, 2):>9} {r.requests:>7} {r.failed:>5} {r.window_s:>6.0f}s "
        f"{fmt.number(r.confidence, 2):>5} {fmt.number(r.mean_power_w, 0):>9}  {note}"
    )


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown = 0

    def __call__(self, ctl: SearchController) -> None:
        while self.shown < len(ctl.records):
            if self.shown == 0:
                print(HEADER, file=self.out)
            print(level_row(ctl.records[self.shown]), file=self.out, flush=True)
            self.shown += 1


def plan_summary(
    result: SearchResult,
    *,
    model: str,
    simulator: str,
    gpu_count: int,
    wall_s: float,
    details: PlanDetails | None = None,
) -> RunSummary:
    """The plan's answer as a RunSummary on the virtual clock (every figure simulated)."""
    return RunSummary(
        status="finished",
        endpoint="virtual clock",
        model=model,
        simulated=True,
        simulator=simulator,
        mode=result.mode,  # type: ignore[arg-type]
        rigour=result.rigour,  # type: ignore[arg-type]
        published_rules=result.published_rules,
        gpu_count=gpu_count,
        duration_s=result.duration_s,
        levels=result.levels,
        results=result.results,
        clock="virtual",
        wall_time_s=wall_s,
        plan=details,
    )


def write_summary(summary: RunSummary, out: str | None) -> None:
    """The summary's JSON to stdout, and to `out` when given."""
    text = summary.to_json(indent=True) + b"\n"
    sys.stdout.write(text.decode())
    if out:
        Path(out).write_bytes(text)


def answer_line(result: SearchResult, wall_s: float) -> str:
    res = result.primary
    ratio = fmt.per_mw(res.agents_per_mw) if res.agents_per_mw is not None else "n/a"
    return (
        f"SIMULATED N* = {res.n_star} agents ({fmt.per_gpu(res.agents_per_gpu)} per GPU, {ratio} per MW, "
        f"{res.power_basis or 'no'} power); first failing N = {res.first_fail_n} "
        f"({res.failing_criterion or '-'}); {result.duration_s:.0f} s virtual in {wall_s:.1f} s wall"
    )


def print_answer(summary: RunSummary, result: SearchResult, wall_s: float, suffix: str = "") -> None:
    """The answer on stderr: one line, or one line per tier for a run with several."""
    if len(result.results) > 1:
        for head in headlines(summary):
            print("SIMULATED " + tier_line(head), file=sys.stderr)
        print(f"{len(result.results)} tiers on shared levels: {result.duration_s:.0f} s virtual in "
              f"{wall_s:.1f} s wall{suffix}", file=sys.stderr)
    else:
        print(answer_line(result, wall_s) + suffix, file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    from agentperf_tui.core.search.shape_plan import MAX_FACTOR, default_max_n, workload_stats
    from agentperf_tui.core.simulator.profiles import ProfileError
    from agentperf_tui.core.simulator.recipes import recipe_path
    from agentperf_tui.core.simulator.steady import replicas_held
    from agentperf_tui.core.simulator.virtual import VirtualLoad, check_replayable, load_deployment

    try:
        tiers = parse_tiers(args.tier)
    except (TierSpecError, SloProfileError, FileNotFoundError) as e:
        return _err(f"--tier: {e}")
    path = resolve_trajectories(args.trajectories)
    try:
        trajectories = load_set(path, trees=True)
    except TrajectoryError as e:
        return _err(
            f"--trajectories: {e}; import recorded traces with `agentperf-tui trajectories import` "
            "or generate a set with `agentperf-tui trajectories synth`"
        )
    try:
        check_replayable(trajectories)
    except ValueError as e:
        return _err(f"--trajectories: {e}")
    if args.replicas is None and args.gpus_per_replica is None and recipe_path(args.model, args.hardware):
        from agentperf_tui.cli.plan_shapes import main_shapes

        return main_shapes(args, tiers, trajectories)
    try:
        dep = load_deployment(args.hardware, args.model, replicas=args.replicas,
                              gpus_per_replica=args.gpus_per_replica)
    except ProfileError as e:
        return _err(str(e))
    mode: Mode = "fixed" if args.fixed else "sweep" if args.sweep else "search"
    max_n = args.max_n
    if max_n is None:
        held = replicas_held(dep, workload_stats(trajectories, args.tool_delay), tiers[0].speed_tok_s)
        max_n = default_max_n(held, args.start)
    try:
        plan = SearchPlan(
            mode=mode,
            rigour=args.rigour,
            tiers=tiers,
            start_n=args.start,
            max_n=max_n,
            fixed_n=args.fixed,
            sweep=args.sweep,
            warmup_s=args.warmup_s,
            confidence=args.confidence,
            gpu_count=dep.gpu_count,
        )
    except PlanError as e:
        return _err(str(e))
    load = VirtualLoad(dep, trajectories, seed=args.seed, tool_delay=args.tool_delay)
    what = (
        f"tier {tiers[0].name} ({tiers[0].describe()})" if len(tiers) == 1
        else f"{len(tiers)} tiers on shared levels ({', '.join(t.name for t in tiers)})"
    )
    print(
        f"SIMULATED capacity plan: {dep.label}, {what}, "
        f"{len(trajectories)} trajectories, {args.rigour} rigour, seed {args.seed}",
        file=sys.stderr,
    )
    if mode == "search":
        origin = "--max" if args.max_n is not None else (
            f"default: {MAX_FACTOR:g} x the agents its running-sequence slots or KV cache hold at the "
            "tier's speed"
        )
        print(f"searching from N={plan.start_n} up to N={plan.max_n:,} ({origin})", file=sys.stderr)
    printer = _Printer(sys.stderr)
    wall0 = time.perf_counter()
    try:
        result = run_search_virtual(plan, load, tick_s=args.tick, on_tick=printer)
    except VirtualRunError as e:
        return _err(str(e))
    wall = time.perf_counter() - wall0
    summary = plan_summary(
        result, model=args.model, simulator=dep.label, gpu_count=dep.gpu_count, wall_s=wall
    )
    write_summary(summary, args.out)
    print_answer(summary, result, wall)
    return 0
