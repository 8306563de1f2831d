"""How much virtual time the fast mode needs to reach the strict mode's answer, on the simulator.

For each deployment/tier and seed, run the full search twice on the virtual clock, strict
(published rules) and fast (early stopping), and report both answers and both durations. The
figure of merit is fast time / strict time over the runs where fast lands on strict's answer
(within 5% or 1 agent); target: at most 0.5. Disagreements are counted and shown.

    .venv/bin/python benchmarks/search_bench.py                 # the default cases, 3 seeds
    .venv/bin/python benchmarks/search_bench.py --seeds 10 --case a
    .venv/bin/python benchmarks/search_bench.py --trajectories DIR --hardware h200-sxm \\
        --model gpt-oss-120b --tier gpt-oss-120b/100-5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.virtual_run import run_search_virtual
from agentperf_tui.core.simulator.virtual import VirtualLoad, load_deployment
from agentperf_tui.core.tiers import parse_tier
from agentperf_tui.core.workload.synth import write_synth_set
from agentperf_tui.core.workload.trajectory import Trajectory, load_set


@dataclass(frozen=True)
class Case:
    key: str
    hardware: str
    model: str
    tier: str
    what: str


CASES = [
    Case("a", "h200-sxm", "gpt-oss-120b", "gpt-oss-120b@rev1/100-5", "speed-bound, ~12 agents on 1 GPU"),
    Case("b", "h100-sxm", "llama-3.3-70b", "40/5", "speed-bound, ~12 agents on 2 GPUs"),
    Case("c", "h100-sxm", "llama-3.3-70b", "10/0.75", "TTFT-bound near saturation, ~100 agents on 2 GPUs"),
]


def agree(a: int | None, b: int | None) -> bool:
    if a is None or b is None:
        return a == b
    return abs(a - b) <= max(1, int(0.05 * max(a, b)))


def run_case(case: Case, trajs: list[Trajectory], seeds: range, tick_s: float) -> list[dict[str, float]]:
    dep = load_deployment(case.hardware, case.model)
    tier = parse_tier(case.tier)
    rows = []
    for seed in seeds:
        out: dict[str, float] = {"seed": seed}
        for rigour in ("strict", "fast"):
            plan = SearchPlan(rigour=rigour, tier=tier, gpu_count=dep.gpu_count)
            w0 = time.perf_counter()
            res = run_search_virtual(plan, VirtualLoad(dep, trajs, seed=seed), tick_s=tick_s)
            out[f"{rigour}_n"] = res.n_star if res.n_star is not None else -1
            out[f"{rigour}_s"] = res.duration_s
            out[f"{rigour}_levels"] = len(res.levels)
            out[f"{rigour}_wall"] = time.perf_counter() - w0
        out["ratio"] = out["fast_s"] / out["strict_s"]
        out["agree"] = float(agree(int(out["strict_n"]), int(out["fast_n"])))
        rows.append(out)
        print(
            f"  seed {seed:>2}: strict N*={int(out['strict_n']):>4} in {out['strict_s']:>6.0f} s "
            f"({int(out['strict_levels'])} levels) | "
            f"fast N*={int(out['fast_n']):>4} in {out['fast_s']:>6.0f} s "
            f"({int(out['fast_levels'])} levels) | ratio {out['ratio']:.3f} "
            f"{'agree' if out['agree'] else 'DISAGREE'} | wall {out['strict_wall'] + out['fast_wall']:.0f} s",
            flush=True,
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--case", action="append", choices=[c.key for c in CASES], help="default: all")
    ap.add_argument("--trajectories", help="trajectory set (default: 24 generated 'quick' trajectories)")
    ap.add_argument("--hardware")
    ap.add_argument("--model")
    ap.add_argument("--tier")
    ap.add_argument("--tick", type=float, default=2.0, help="virtual seconds between controller ticks")
    args = ap.parse_args()
    cases = [c for c in CASES if not args.case or c.key in args.case]
    if args.hardware or args.model or args.tier:
        if not (args.hardware and args.model and args.tier):
            ap.error("--hardware, --model and --tier go together")
        cases = [Case("custom", args.hardware, args.model, args.tier, "from the command line")]
    with tempfile.TemporaryDirectory() as tmp:
        if args.trajectories:
            src = Path(args.trajectories)
        else:
            src = Path(tmp) / "quick"
            write_synth_set(src, seed=7, count=24, preset="quick")
        trajs = load_set(src)
        print(f"trajectories: {src} ({len(trajs)})")
        all_rows = []
        for case in cases:
            head = f"case {case.key}: {case.model} on {case.hardware}, tier {case.tier} ({case.what})"
            print(head, flush=True)
            rows = run_case(case, trajs, range(args.seeds), args.tick)
            all_rows += rows
            summarize(rows, f"case {case.key}")
    summarize(all_rows, "all")
    return 0


def summarize(rows: list[dict[str, float]], label: str) -> None:
    ok = [r for r in rows if r["agree"]]
    ratios = [r["ratio"] for r in ok]
    if not ratios:
        print(f"{label}: fast never reached strict's answer ({len(rows)} runs)")
        return
    print(
        f"{label}: fast reached strict's answer in {len(ok)}/{len(rows)} runs; "
        f"fast/strict virtual time: median {statistics.median(ratios):.3f}, max {max(ratios):.3f} "
        f"(target <= 0.5); strict mean {statistics.fmean(r['strict_s'] for r in rows):.0f} s, "
        f"fast mean {statistics.fmean(r['fast_s'] for r in rows):.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
