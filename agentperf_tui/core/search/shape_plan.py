"""Choose the deployment shape: rank a recipe's shapes for a GPU budget, search the best ones.

Every candidate shape (recipe shape x pool sizes x instance counts filling the budget) gets a
steady-state estimate of the agents it holds at the tier (`steady.agent_capacity`, fast); the
best two distinct shapes are then searched on the virtual clock with the rack-scale engine (at
the same time, the second in a worker process), and the winner is the one whose searched N*
is higher. What bound each is read from the engine's counters over its first failing level:
the batch cap or the KV cache when requests queued for a decode slot, prefill compute when
the prefill side was saturated, decode bandwidth when the speed criterion failed with free
slots, TTFT queueing otherwise.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from agentperf_tui.core.search.controller import SearchController
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.result import SearchResult
from agentperf_tui.core.search.virtual_run import run_search_virtual
from agentperf_tui.core.simulator.costmodel import CostParams, load_cost_params
from agentperf_tui.core.simulator.recipes import Recipe
from agentperf_tui.core.simulator.shapes import Shape, candidate_shapes
from agentperf_tui.core.simulator.steady import Capacity, WorkloadStats, agent_capacity
from agentperf_tui.core.simulator.virtual import VirtualLoad, baseline_tool_delay
from agentperf_tui.core.summary.level import NO_DATA, LevelRecord
from agentperf_tui.core.tiers import SloTier
from agentperf_tui.core.workload.trajectory import TokenTurn, Trajectory
from agentperf_tui.core.workload.tree import Node, tree_of
from agentperf_tui.core.workload.tree_replay import timeline

MAX_FACTOR = 2.0
"""By default a plan searches up to this many times the agents the deployment's decode slots
(or KV cache) hold at the tier's speed (`Capacity.held`): beyond those, requests queue for a
slot, so the search fails well before it, and the factor covers the steady-state estimate's
error. `--max` overrides it."""


def default_max_n(held: float, start_n: int) -> int:
    """The largest N a plan searches by default: MAX_FACTOR x `held` (never below the start, nor 1)."""
    return max(start_n, 1, math.ceil(MAX_FACTOR * held))


NOMINAL_SPEED_TOK_S = 50.0
"""Reply speed used only to lay trees out when estimating how many requests an agent keeps in
flight (the ranking estimate; the searched N* comes from the clock)."""


def workload_stats(trajectories: list[Trajectory], tool_delay: str) -> WorkloadStats:
    """Per-request means of a trajectory set, every request of every tree node counted (token-only
    turns; text turns count their recorded prompt tokens where given), and how many requests an
    agent keeps in flight on average (1 for linear trajectories)."""
    prompts: list[float] = []
    new: list[float] = []
    outs: list[float] = []
    delays: list[float] = []
    work = span = 0.0
    rng = random.Random(0)
    draws = random.Random(1)
    mean_baseline = statistics.fmean(baseline_tool_delay(draws) for _ in range(2000))

    def delay(node: Node, k: int) -> float:
        return node.turns[k].tool_delay_s if tool_delay == "recorded" else mean_baseline

    def duration(node: Node, k: int) -> float:
        return node.turns[k].output_tokens / NOMINAL_SPEED_TOK_S + 1.0

    for t in trajectories:
        root = tree_of(t)
        for node in root.walk():
            prev = 0
            for turn in node.turns:
                if isinstance(turn, TokenTurn):
                    p = turn.prompt_tokens
                    # a sub-agent's first prompt may start with context its parent already sent
                    inherited = not prev and not node.is_root
                    reuse = turn.cached_prefix_tokens if inherited else min(prev, turn.cached_prefix_tokens)
                else:
                    p = turn.recorded_prompt_tokens or 0
                    reuse = 0 if turn.compacted else min(prev, p)
                prompts.append(p)
                new.append(p - reuse)
                outs.append(turn.output_tokens)
                delays.append(turn.tool_delay_s if tool_delay == "recorded" else baseline_tool_delay(rng))
                prev = p
        # an agent's requests laid out without contention: the work they hold over the time the
        # agent takes (equal for a linear trajectory; more when sub-agents run side by side)
        laid = timeline(root, duration, think_time=False, tool_delay=delay)
        work += sum(duration(n, k) + delay(n, k) for n in root.walk() for k in range(len(n.turns)))
        span += max(r.end for r in laid) + delay(root, len(root.turns) - 1)
    return WorkloadStats(
        prompt_tokens=statistics.fmean(prompts),
        new_tokens=statistics.fmean(new),
        output_tokens=statistics.fmean(outs),
        tool_delay_s=statistics.fmean(delays),
        parallelism=work / span if span > 0 else 1.0,
    )


@dataclass(frozen=True)
class Candidate:
    shape: Shape
    estimate: Capacity


def rank_shapes(
    recipe: Recipe,
    gpus: int,
    tier: SloTier,
    stats: WorkloadStats,
    params: CostParams | None = None,
    shape_names: list[str] | None = None,
) -> list[Candidate]:
    """Candidates best first by estimated agents (ties, e.g. none holds any agent at a fast tier:
    the faster decode first, then fewer GPUs, then the recipe's order)."""
    shapes = candidate_shapes(recipe, gpus, params=params or load_cost_params(), shape_names=shape_names)
    cands = [Candidate(s, agent_capacity(s, stats, tier.speed_tok_s, tier.ttft_s)) for s in shapes]
    cands.sort(key=lambda c: (-c.estimate.agents, -c.estimate.speed, c.shape.gpu_count))
    return cands


@dataclass(frozen=True)
class ShapeOutcome:
    candidate: Candidate
    result: SearchResult
    bound: str
    wall_s: float
    max_n: int
    """The largest N the search could try."""

    @property
    def shape(self) -> Shape:
        return self.candidate.shape

    def plausible_range(self, spread: float) -> tuple[int, int]:
        n = self.result.primary.n_star or 0
        return math.floor(n * math.exp(-spread)), math.ceil(n * math.exp(spread))


def _counters(load: VirtualLoad) -> tuple[float, float, float]:
    c = load.engine.c  # type: ignore[union-attr]
    return (c.slot_limited_s, c.kv_limited_s, c.prefill_busy_s)


def bound_of(
    shape: Shape,
    level: LevelRecord,
    marks: list[tuple[float, tuple[float, float, float]]],
    failing: str | None,
) -> str:
    """What limited the shape during `level` (its first failing level), from the engine's
    counters over the level's span: requests queued for a decode slot (batch cap) or for KV
    room (KV memory), the prefill pool saturated (prefill compute), the speed criterion failing
    with free slots (decode bandwidth), else TTFT queueing (unknown when the level counted no
    request)."""
    t0 = level.started_at if math.isfinite(level.started_at) else marks[0][0]
    t1 = level.ended_at if level.ended_at is not None else marks[-1][0]
    before = next((m for t, m in reversed(marks) if t <= t0), marks[0][1])
    after = next((m for t, m in reversed(marks) if t <= t1), marks[-1][1])
    seconds = max(1e-9, t1 - t0)
    slot, kv, prefill = (b - a for a, b in zip(before, after, strict=True))
    if slot > 0.2 * seconds:
        return "batch cap"
    if kv > 0.2 * seconds:
        return "KV memory"
    if shape.disaggregated and shape.prefill_instances and prefill / shape.prefill_instances > 0.85 * seconds:
        return "prefill compute"
    if failing == "speed":
        return "decode bandwidth"
    if failing == NO_DATA:
        return "unknown (no data)"
    return "TTFT queueing"


def search_shape(
    cand: Candidate,
    trajectories: list[Trajectory],
    plan: SearchPlan,
    *,
    seed: int,
    tool_delay: str,
    tick_s: float,
    on_tick: Callable[[SearchController], None] | None = None,
) -> ShapeOutcome:
    shape = cand.shape
    t0 = time.perf_counter()
    load = VirtualLoad(
        shape, trajectories, seed=seed, tool_delay="baseline" if tool_delay == "baseline" else "recorded"
    )
    marks = [(load.now, _counters(load))]

    def tick(ctl: SearchController) -> None:
        marks.append((load.now, _counters(load)))
        if on_tick is not None:
            on_tick(ctl)

    res = run_search_virtual(plan, load, tick_s=tick_s, on_tick=tick)
    answer = res.primary
    failed = [lv for lv in res.levels if lv.n == answer.first_fail_n and lv.decided and not lv.passed]
    fail = max(failed, key=lambda lv: lv.index, default=None)
    if fail is not None:
        bound = bound_of(shape, fail, marks, answer.failing_criterion)
    else:
        bound = f"none up to N={plan.max_n} (the largest N searched)"
    return ShapeOutcome(cand, res, bound, time.perf_counter() - t0, plan.max_n)


def search_shapes(
    jobs: list[tuple[Candidate, SearchPlan]],
    trajectories: list[Trajectory],
    *,
    seed: int,
    tool_delay: str,
    tick_s: float,
    on_tick: Callable[[SearchController], None] | None = None,
) -> list[ShapeOutcome]:
    """Search every (candidate, plan), in order: the first in this process (its levels go to
    `on_tick` as they finish), the others at the same time in worker processes when the
    machine has more than one core. Each search is deterministic, so where it runs does not
    change its answer."""
    if not jobs:
        return []
    first, rest = jobs[0], jobs[1:]
    if not rest or (os.cpu_count() or 1) < 2:
        return [
            search_shape(c, trajectories, p, seed=seed, tool_delay=tool_delay, tick_s=tick_s,
                         on_tick=on_tick if i == 0 else None)
            for i, (c, p) in enumerate(jobs)
        ]
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=len(rest), mp_context=ctx) as pool:
        futures = [
            pool.submit(search_shape, c, trajectories, p, seed=seed, tool_delay=tool_delay, tick_s=tick_s)
            for c, p in rest
        ]
        head = search_shape(first[0], trajectories, first[1], seed=seed, tool_delay=tool_delay,
                            tick_s=tick_s, on_tick=on_tick)
        return [head] + [f.result() for f in futures]


def distinct_top(cands: list[Candidate], k: int = 2) -> list[Candidate]:
    """The best k candidates from different recipe shapes (else different pool sizes)."""
    out: list[Candidate] = []
    seen: set[str] = set()
    for c in cands:
        if c.shape.spec.name in seen:
            continue
        seen.add(c.shape.spec.name)
        out.append(c)
        if len(out) == k:
            return out
    for c in cands:
        if len(out) == k:
            break
        if all(c.shape != o.shape for o in out):
            out.append(c)
    return out
