"""Capacity of one workload replayed as agent trees and as linear conversations, on the simulator's
virtual clock. Every figure is SIMULATED.

The tree set is generated (`trajectories synth`'s agentx preset with every fork spawning 2 to 4
sub-agents, equally likely); the linear set holds the same requests, token for token: the main
agent's chain and every sub-agent's chain each become a linear conversation of their own. So the
two sets differ only in how requests are grouped into agents: a tree agent runs its sub-agents
side by side (several requests in flight at a fork), a linear agent one request at a time.

For each case, tier and seed, the fast search runs on the virtual clock for both sets and prints
N*, the requests in flight per agent and the prefix-cache hit ratio over N*'s measured window (its
last passing level), the search's virtual time and the wall time it took.

    .venv/bin/python benchmarks/trees_bench.py                  # both cases, both tiers, seed 0
    .venv/bin/python benchmarks/trees_bench.py --seeds 3 --case a --count 48
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.result import SearchResult
from agentperf_tui.core.search.virtual_run import run_search_virtual
from agentperf_tui.core.simulator.profiles import Deployment
from agentperf_tui.core.simulator.recipes import load_recipe
from agentperf_tui.core.simulator.shapes import Shape, candidate_shapes
from agentperf_tui.core.simulator.virtual import VirtualLoad, load_deployment
from agentperf_tui.core.tiers import parse_tier
from agentperf_tui.core.workload.synth_tree import TREE_PRESETS, TreePreset, write_tree_set
from agentperf_tui.core.workload.trajectory import Trajectory, TrajectoryHeader, load_set
from agentperf_tui.core.workload.tree_stats import tree_stats

FANOUT_2_TO_4 = dataclasses.replace(TREE_PRESETS["agentx"], name="agentx-fan2to4",
                                    fanout_weights=(0.0, 1.0, 1.0, 1.0))


@dataclass(frozen=True)
class Case:
    key: str
    what: str
    tiers: tuple[str, ...]

    def deployment(self) -> Deployment | Shape:
        if self.key == "a":
            return load_deployment("h200-sxm", "gpt-oss-120b", replicas=1, gpus_per_replica=1)
        shapes = candidate_shapes(load_recipe("gpt-oss-120b", "h200-sxm"), 8, shape_names=["agg-tp"])
        return next(s for s in shapes if s.decode_instances == 1)


CASES = [
    Case("a", "gpt-oss-120b, 1 x H200, replica engine", ("gpt-oss-120b@rev1/100-5", "50/5")),
    Case("b", "gpt-oss-120b, 8 x H200 as 1 x TP8 (recipe shape, rack-scale engine)",
         ("gpt-oss-120b@rev1/100-5", "50/5")),
]


def linear_set(trees: list[Trajectory]) -> list[Trajectory]:
    """Every node chain of every tree as a linear conversation of its own (same requests)."""
    out: list[Trajectory] = []
    for t in trees:
        chains = [("root", t.turns), *((sub.spec.node, sub.turns) for sub in t.subagents)]
        for node, turns in chains:
            head = TrajectoryHeader(format="agentperf-traj/1", id=f"{t.id}/{node}", kind="tokens")
            out.append(Trajectory(header=head, turns=turns))
    return out


def tokens(trajs: list[Trajectory]) -> int:
    return sum(s.tokens for s in map(tree_stats, trajs))


class Watched(VirtualLoad):
    """The virtual load, keeping what the benchmark reports: each finished request, and the
    requests in flight and agents at every tick."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.finished: list[RequestResult] = []
        self.ticks: list[tuple[float, int, int]] = []

    def advance(self, seconds: float) -> list[RequestResult]:
        out = super().advance(seconds)
        self.finished += out
        self.ticks.append((self.now, len(self.open_requests()), self.active_agents))
        return out


@dataclass(frozen=True)
class Row:
    n_star: int
    first_fail: str
    in_flight_per_agent: float
    peak_in_flight: int
    hit_ratio: float
    subagent_share: float
    virtual_s: float
    wall_s: float


def measure(dep: Deployment | Shape, trajs: list[Trajectory], tier: str, seed: int, tick: float) -> Row:
    plan = SearchPlan(tier=parse_tier(tier), gpu_count=dep.gpu_count)
    load = Watched(dep, trajs, seed=seed)
    w0 = time.perf_counter()
    res = run_search_virtual(plan, load, tick_s=tick)
    wall = time.perf_counter() - w0
    return summarise(res, load, wall)


def summarise(res: SearchResult, load: Watched, wall: float) -> Row:
    answer = res.primary
    n = answer.n_star or 0
    fail = f"{answer.first_fail_n} ({answer.failing_criterion})" if answer.first_fail_n else "-"
    at = [lv for lv in res.levels if lv.n == n and lv.passed and lv.measure_from is not None]
    if not at:
        return Row(n, fail, float("nan"), 0, float("nan"), float("nan"), res.duration_s, wall)
    lv = at[-1]
    assert lv.measure_from is not None
    t0, t1 = lv.measure_from, lv.window_end if lv.window_end is not None else lv.ended_at or lv.measure_from
    ticks = [(o, a) for t, o, a in load.ticks if t0 <= t <= t1 and a]
    reqs = [r for r in load.finished if r.ok and t0 <= r.t_intended < t1]
    prompt = sum(r.prompt_tokens or 0 for r in reqs)
    cached = sum(r.cached_tokens or 0 for r in reqs)
    # sub-agents' requests: a tree's other nodes, or the linear set's conversations made from them
    subs = sum(r.node != "root" or ("/" in r.trajectory_id and not r.trajectory_id.endswith("/root"))
               for r in reqs)
    return Row(
        n_star=n,
        first_fail=fail,
        in_flight_per_agent=statistics.fmean(o / a for o, a in ticks) if ticks else float("nan"),
        peak_in_flight=max((o for o, _ in ticks), default=0),
        hit_ratio=cached / prompt if prompt else float("nan"),
        subagent_share=subs / len(reqs) if reqs else float("nan"),
        virtual_s=res.duration_s,
        wall_s=wall,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", action="append", choices=[c.key for c in CASES], help="default: all")
    ap.add_argument("--seeds", type=int, default=1, help="load seeds per case and tier")
    ap.add_argument("--count", type=int, default=24, help="trees in the generated set")
    ap.add_argument("--set-seed", type=int, default=1, help="seed of the generated tree set")
    ap.add_argument("--tick", type=float, default=2.0, help="virtual seconds between controller ticks")
    args = ap.parse_args()
    preset: TreePreset = FANOUT_2_TO_4
    with tempfile.TemporaryDirectory() as tmp:
        write_tree_set(Path(tmp) / "trees", seed=args.set_seed, count=args.count, preset=preset)
        trees = load_set(Path(tmp) / "trees", trees=True)
    lin = linear_set(trees)
    stats = [tree_stats(t) for t in trees]
    fans = [f for s in stats for f in s.fanouts]
    reqs = sum(s.requests for s in stats)
    print(f"SIMULATED. Tree set: {len(trees)} trees (preset {preset.name}, set seed {args.set_seed}), "
          f"{sum(s.subagents for s in stats)} sub-agents in {len(fans)} forks (fan-out "
          f"{min(fans, default=0)}-{max(fans, default=0)}, mean {statistics.fmean(fans or [0]):.2f}), "
          f"{reqs} requests ({100 * sum(s.subagent_requests for s in stats) / reqs:.0f}% by sub-agents), "
          f"{tokens(trees):,} tokens; linear set: {len(lin)} conversations, "
          f"{sum(len(t.turns) for t in lin)} requests, {tokens(lin):,} tokens")
    if tokens(trees) != tokens(lin):
        print("the two sets do not hold the same tokens", file=sys.stderr)
        return 1
    head = (f"{'case':4} {'tier':24} {'set':6} {'seed':>4} {'N*':>4} {'first fail':>12} "
            f"{'in flight/agent':>15} {'peak':>5} {'cache hit':>9} {'sub share':>9} {'virtual s':>9} "
            f"{'wall s':>7}")
    print(head)
    for case in [c for c in CASES if not args.case or c.key in args.case]:
        dep = case.deployment()
        print(f"case {case.key}: {case.what}", flush=True)
        for tier in case.tiers:
            ratios = []
            for seed in range(args.seeds):
                got = {}
                for name, trajs in (("trees", trees), ("linear", lin)):
                    r = got[name] = measure(dep, trajs, tier, seed, args.tick)
                    print(f"{case.key:4} {tier:24} {name:6} {seed:>4} {r.n_star:>4} {r.first_fail:>12} "
                          f"{r.in_flight_per_agent:>15.2f} {r.peak_in_flight:>5} {100 * r.hit_ratio:>8.1f}% "
                          f"{100 * r.subagent_share:>8.1f}% {r.virtual_s:>9.0f} {r.wall_s:>7.1f}", flush=True)
                if got["linear"].n_star:
                    ratios.append(got["trees"].n_star / got["linear"].n_star)
            if ratios:
                print(f"     N* as trees / N* as linear conversations: mean {statistics.fmean(ratios):.2f} "
                      f"(range {min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} seeds)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
