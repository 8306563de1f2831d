"""How much measuring a run saves by judging every tier on shared levels, on the simulator.

For each case (a deployment and a tier family or list) and seed, run the search on the virtual
clock twice over: once for all the tiers together (one run, shared levels), and once per tier
(separate single-tier searches, each on a fresh load with the same seed). Report the total
virtual time and levels of each, the ratio together / separate, and whether each tier's N*
agrees (within max(1, 5%)). With --baseline, each single-tier search is run again with another
seed, to show how often two separate searches agree with each other: the noise floor that the
agreement of the shared search is to be read against.

    .venv/bin/python benchmarks/tiers_bench.py                    # the default cases, 3 seeds
    .venv/bin/python benchmarks/tiers_bench.py --seeds 5 --case a --rigour strict
    .venv/bin/python benchmarks/tiers_bench.py --hardware h200-sxm --model gpt-oss-120b \\
        --tier gpt-oss-120b@rev1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from search_bench import agree

from agentperf_tui.core.search.plan import Rigour, SearchPlan
from agentperf_tui.core.search.result import SearchResult
from agentperf_tui.core.search.virtual_run import run_search_virtual
from agentperf_tui.core.simulator.virtual import VirtualLoad, load_deployment
from agentperf_tui.core.tiers import parse_tiers
from agentperf_tui.core.workload.synth import write_synth_set
from agentperf_tui.core.workload.trajectory import Trajectory, load_set


@dataclass(frozen=True)
class Case:
    key: str
    hardware: str
    model: str
    tiers: str
    what: str


CASES = [
    Case("a", "h200-sxm", "deepseek-v4-pro", "deepseek-v4-pro@2026-06", "launch tiers, N* ~136 / ~15 / 0"),
    Case("b", "h200-sxm", "deepseek-v4-pro", "deepseek-v4-pro@rev1", "revised tiers"),
    Case("c", "h200-sxm", "gpt-oss-120b", "gpt-oss-120b@rev1", "four tiers, N* ~13 / 1 / 0 / 0"),
    Case("d", "h100-sxm", "llama-3.3-70b", "20/5,30/5,40/5", "a custom list of close tiers"),
]


@dataclass
class Row:
    seed: int
    together_s: float
    together_levels: int
    separate_s: float
    separate_levels: int
    together_n: list[int | None]
    separate_n: list[int | None]
    wall_s: float
    baseline_n: list[int | None] | None = None
    """N* of single-tier searches with another seed (--baseline)."""

    @property
    def ratio(self) -> float:
        return self.together_s / self.separate_s

    @property
    def agree(self) -> bool:
        return all(agree(a, b) for a, b in zip(self.together_n, self.separate_n, strict=True))

    @property
    def agree_tiers(self) -> int:
        return sum(agree(a, b) for a, b in zip(self.together_n, self.separate_n, strict=True))

    @property
    def baseline_agree_tiers(self) -> int | None:
        if self.baseline_n is None:
            return None
        return sum(agree(a, b) for a, b in zip(self.baseline_n, self.separate_n, strict=True))


def run_case(
    case: Case, trajs: list[Trajectory], seeds: range, tick_s: float, rigour: Rigour, baseline: bool
) -> list[Row]:
    dep = load_deployment(case.hardware, case.model)
    tiers = parse_tiers(case.tiers)
    rows = []
    for seed in seeds:
        w0 = time.perf_counter()
        plan = SearchPlan(rigour=rigour, tiers=tiers, gpu_count=dep.gpu_count)
        together = run_search_virtual(plan, VirtualLoad(dep, trajs, seed=seed), tick_s=tick_s)
        def alone(seed: int) -> list[SearchResult]:
            return [
                run_search_virtual(
                    SearchPlan(rigour=rigour, tier=t, gpu_count=dep.gpu_count),
                    VirtualLoad(dep, trajs, seed=seed),
                    tick_s=tick_s,
                )
                for t in tiers
            ]

        separate = alone(seed)
        again = [r.primary.n_star for r in alone(seed + 1000)] if baseline else None
        row = Row(
            seed=seed,
            together_s=together.duration_s,
            together_levels=len(together.levels),
            separate_s=sum(r.duration_s for r in separate),
            separate_levels=sum(len(r.levels) for r in separate),
            together_n=[r.n_star for r in together.results],
            separate_n=[r.primary.n_star for r in separate],
            wall_s=time.perf_counter() - w0,
            baseline_n=again,
        )
        rows.append(row)
        print(
            f"  seed {seed:>2}: together {row.together_s:>6.0f} s ({row.together_levels:>2} levels) | "
            f"separate {row.separate_s:>6.0f} s ({row.separate_levels:>2} levels) | ratio {row.ratio:.2f} | "
            f"N* {'/'.join(str(n) for n in row.together_n)} vs {'/'.join(str(n) for n in row.separate_n)} "
            f"{'agree' if row.agree else 'DISAGREE'}"
            + (f" (other seed alone: {'/'.join(str(n) for n in row.baseline_n)})" if row.baseline_n else "")
            + f" | wall {row.wall_s:.0f} s",
            flush=True,
        )
    return rows


def summarize(rows: list[Row], label: str) -> None:
    if not rows:
        return
    together = sum(r.together_s for r in rows)
    separate = sum(r.separate_s for r in rows)
    ratios = [r.ratio for r in rows]
    tiers = sum(len(r.together_n) for r in rows)
    base = [r.baseline_agree_tiers for r in rows if r.baseline_agree_tiers is not None]
    print(
        f"{label}: together / separate virtual time {together / separate:.2f} overall "
        f"(per seed: median {statistics.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f}); "
        f"levels {sum(r.together_levels for r in rows)} vs {sum(r.separate_levels for r in rows)}; "
        f"N* agree for {sum(r.agree_tiers for r in rows)}/{tiers} tiers"
        + (f" (two separate searches, other seeds: {sum(base)}/{tiers})" if base else ""),
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--case", action="append", choices=[c.key for c in CASES], help="default: all")
    ap.add_argument("--trajectories", help="trajectory set (default: 24 generated 'quick' trajectories)")
    ap.add_argument("--hardware")
    ap.add_argument("--model")
    ap.add_argument("--tier", help="a tier family or a comma-separated list of tiers")
    ap.add_argument("--rigour", choices=["fast", "strict"], default="fast")
    ap.add_argument("--tick", type=float, default=2.0, help="virtual seconds between controller ticks")
    ap.add_argument("--baseline", action="store_true",
                    help="also run each single-tier search with another seed (the noise floor of agreement)")
    args = ap.parse_args()
    cases = [c for c in CASES if not args.case or c.key in args.case]
    if args.hardware or args.model or args.tier:
        if not (args.hardware and args.model and args.tier):
            ap.error("--hardware, --model and --tier go together")
        cases = [Case("custom", args.hardware, args.model, args.tier, "from the command line")]
    all_rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.trajectories:
            src = Path(args.trajectories)
        else:
            src = Path(tmp) / "quick"
            write_synth_set(src, seed=7, count=24, preset="quick")
        trajs = load_set(src)
        print(f"trajectories: {src} ({len(trajs)}); {args.rigour} rigour; SIMULATED, virtual clock")
        for case in cases:
            head = f"case {case.key}: {case.model} on {case.hardware}, tiers {case.tiers} ({case.what})"
            print(head, flush=True)
            rows = run_case(case, trajs, range(args.seeds), args.tick, args.rigour, args.baseline)
            summarize(rows, f"case {case.key}")
            all_rows += rows
    summarize(all_rows, "all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
