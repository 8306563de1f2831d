"""Choose the deployment shape: rank a recipe's shapes for a GPU budget, search the best ones.

Every candidate shape (recipe shape x pool sizes x instance counts filling the budget) gets a
steady-state estimate of the agents it holds at the tier (`steady.agent_capacity`, fast); the
best two distinct shapes are then searched on the virtual clock with the rack-scale engine,
and the winner is the one whose searched N* is higher. What bound each is read from the
engine at the first failing level: the batch cap or the KV cache when requests queued for a
decode slot, prefill compute when the prefill side was saturated, decode bandwidth when the
speed criterion failed with free slots, TTFT queueing otherwise.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
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
from agentperf_tui.core.tiers import SloTier
from agentperf_tui.core.workload.trajectory import TokenTurn, Trajectory


def workload_stats(trajectories: list[Trajectory], tool_delay: str) -> WorkloadStats:
    """Per-request means of a trajectory set (token-only turns; text turns count their
    recorded prompt tokens where given)."""
    prompts: list[float] = []
    new: list[float] = []
    outs: list[float] = []
    delays: list[float] = []
    rng = random.Random(0)
    for t in trajectories:
        prev = 0
        for turn in t.turns:
            if isinstance(turn, TokenTurn):
                p = turn.prompt_tokens
                reuse = min(prev, turn.cached_prefix_tokens)
            else:
                p = turn.recorded_prompt_tokens or 0
                reuse = 0 if turn.compacted else min(prev, p)
            prompts.append(p)
            new.append(p - reuse)
            outs.append(turn.output_tokens)
            delays.append(turn.tool_delay_s if tool_delay == "recorded" else baseline_tool_delay(rng))
            prev = p
    return WorkloadStats(
        prompt_tokens=statistics.fmean(prompts),
        new_tokens=statistics.fmean(new),
        output_tokens=statistics.fmean(outs),
        tool_delay_s=statistics.fmean(delays),
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
    """Candidates best first by estimated agents (ties: fewer GPUs, then the recipe's order)."""
    shapes = candidate_shapes(recipe, gpus, params=params or load_cost_params(), shape_names=shape_names)
    cands = [Candidate(s, agent_capacity(s, stats, tier.speed_tok_s, tier.ttft_s)) for s in shapes]
    cands.sort(key=lambda c: (-c.estimate.agents, c.shape.gpu_count))
    return cands


@dataclass(frozen=True)
class ShapeOutcome:
    candidate: Candidate
    result: SearchResult
    bound: str
    wall_s: float

    @property
    def shape(self) -> Shape:
        return self.candidate.shape

    def plausible_range(self, spread: float) -> tuple[int, int]:
        n = self.result.primary.n_star or 0
        return math.floor(n * math.exp(-spread)), math.ceil(n * math.exp(spread))


def bound_at(
    shape: Shape,
    trajectories: list[Trajectory],
    n: int,
    *,
    seed: int,
    tool_delay: str,
    failing: str | None,
    seconds: float = 150.0,
) -> str:
    """What limits the shape at n agents: run n agents for `seconds` and read the engine."""
    load = VirtualLoad(
        shape,
        trajectories,
        seed=seed,
        tool_delay="baseline" if tool_delay == "baseline" else "recorded",
        join_spread_s=10.0,
    )
    load.set_concurrency(n)
    load.advance(seconds)
    eng = load.engine
    c = eng.c  # type: ignore[union-attr]
    if c.slot_limited_s > 0.2 * seconds:
        return "batch cap"
    if c.kv_limited_s > 0.2 * seconds:
        return "KV memory"
    if (
        shape.disaggregated
        and shape.prefill_instances
        and c.prefill_busy_s / shape.prefill_instances > 0.85 * seconds
    ):
        return "prefill compute"
    if failing == "speed":
        return "decode bandwidth"
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
    res = run_search_virtual(plan, load, tick_s=tick_s, on_tick=on_tick)
    answer = res.primary
    fail_n = answer.first_fail_n
    if fail_n is not None:
        bound = bound_at(
            shape, trajectories, fail_n, seed=seed, tool_delay=tool_delay, failing=answer.failing_criterion
        )
    else:
        bound = "none within --max"
    return ShapeOutcome(cand, res, bound, time.perf_counter() - t0)


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
