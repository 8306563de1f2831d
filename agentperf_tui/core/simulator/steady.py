"""Steady-state answers from the cost model, without a clock.

Two questions, both from the same per-step cost (`costmodel.PoolCost`) the engines use:

- `pool_rates` / `throughput_curve` / `throughput_at`: a fixed-length benchmark's curve, total
  tokens per second per GPU against tokens per second per user (the InferenceX axes), for a
  shape whose decode pool runs every batch size up to its cap, with whole instances: a
  disaggregated shape serves the request rate the smaller of its two pools allows, and every
  GPU of both pools counts (an idle prefill node at the low-latency end costs throughput per
  GPU, as it does in the measured runs). The calibration compares these with published
  measurements.
- `agent_capacity`: roughly how many closed-loop agents a shape holds at a tier, and which
  limit binds first (batch cap, KV memory, decode bandwidth, prefill compute, TTFT queueing).
  The planner ranks candidate shapes with it before simulating the best ones on the clock.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from agentperf_tui.core.simulator.costmodel import PoolCost
from agentperf_tui.core.simulator.profiles import Deployment
from agentperf_tui.core.simulator.shapes import Shape

BOUNDS = ("batch cap", "KV memory", "decode bandwidth", "prefill compute", "TTFT queueing")


def _batches(cap: int) -> list[int]:
    out = sorted({max(1, round(2 ** (k / 2))) for k in range(0, 2 * int(math.log2(cap)) + 2)})
    return [b for b in out if b <= cap] + ([cap] if cap not in out else [])


def _prefill_rate(pc: PoolCost, isl: float) -> float:
    """Prompt tokens per second per GPU of a prefill instance running full chunks."""
    chunk = float(pc.pool.max_batched_tokens)
    cost = pc.step(0, 0.0, chunk, chunk * isl / 2, 0.0)
    return chunk * pc.ranks / cost.duration / pc.gpus


@dataclass(frozen=True)
class PoolRates:
    """A shape's steady-state rates per instance, whatever its instance counts: what a
    fixed-length benchmark (isl prompt tokens, osl reply tokens) gets from each pool."""

    isl: int
    osl: int
    decode_gpus: int
    prefill_gpus: int
    decode: tuple[tuple[float, float], ...]
    """(tokens/s per user, reply tokens/s per decode instance) for each decode batch size up to
    the cap (or the KV cache), fastest first. An aggregated instance prefills its own prompts."""
    prefill_tokens_s: float
    """Prompt tokens/s one prefill instance sustains (0 for an aggregated shape)."""

    def per_gpu(self, prefill_instances: int, decode_instances: int) -> list[tuple[float, float]]:
        """(tokens/s per user, total tokens/s per GPU) with these instance counts: a request
        rate that neither pool exceeds, over every GPU of both pools."""
        total = (self.isl + self.osl) / self.osl
        if not self.prefill_gpus:
            return [(speed, out * total / self.decode_gpus) for speed, out in self.decode]
        gpus = prefill_instances * self.prefill_gpus + decode_instances * self.decode_gpus
        cap = prefill_instances * self.prefill_tokens_s * self.osl / self.isl
        return [(speed, min(decode_instances * out, cap) * total / gpus) for speed, out in self.decode]


def pool_rates(shape: Shape, isl: int, osl: int) -> PoolRates:
    dc = shape.decode_cost
    ctx = isl + osl / 2
    pts: list[tuple[float, float]] = []
    pc = shape.prefill_cost
    for b in _batches(dc.pool.max_batch_per_rank):
        if b * (isl + osl) > dc.kv_tokens_per_rank:
            break
        if pc is None:
            # per request lifetime (osl / accept decode steps) the instance also prefills the b
            # prompts that replace the finishing ones, in chunks that ride along decode steps
            chunk = max(1, dc.pool.max_batched_tokens - b * dc.q)
            steps = osl / dc.accept
            n_chunk = b * isl / chunk
            t_dec = dc.step(b, b * ctx, 0.0).duration
            t_mix = dc.step(b, b * ctx, chunk, chunk * isl / 2, 0.0).duration
            cycle = max(0.0, steps - n_chunk) * t_dec + n_chunk * t_mix
            pts.append((osl / cycle, b * dc.ranks * osl / cycle))
        else:
            cost = dc.step(b, b * ctx, 0.0)
            pts.append((dc.accept / cost.duration, b * dc.ranks * dc.accept / cost.duration))
    p_rate = _prefill_rate(pc, isl) * pc.gpus if pc is not None else 0.0
    return PoolRates(isl, osl, dc.gpus, pc.gpus if pc is not None else 0, tuple(pts), p_rate)


def throughput_curve(shape: Shape, isl: int, osl: int) -> list[tuple[float, float]]:
    """(tokens/s per user, total tokens/s per GPU) for every decode batch size of the shape
    with its instance counts, fastest first."""
    return pool_rates(shape, isl, osl).per_gpu(shape.prefill_instances, shape.decode_instances)


def value_at(pts: list[tuple[float, float]], speed: float) -> float | None:
    """Total tokens/s per GPU a curve reaches at `speed` tokens/s per user (log-linear between
    batch sizes; the largest batch's figure when even it is faster; None when none is)."""
    if not pts or pts[0][0] < speed:
        return None
    if pts[-1][0] >= speed:
        return max(t for _, t in pts)
    best = None
    for (s0, t0), (s1, t1) in itertools.pairwise(pts):
        if s0 >= speed >= s1:
            w = (math.log(s0) - math.log(speed)) / (math.log(s0) - math.log(s1)) if s0 != s1 else 0.0
            val = math.exp(math.log(t0) + w * (math.log(t1) - math.log(t0)))
            # throughput never falls as the batch grows at a lower speed: the best of the
            # batches fast enough stands
            best = max([val] + [t for s_, t in pts if s_ >= speed])
            break
    return best


def throughput_at(shapes: list[Shape], isl: int, osl: int, speed: float) -> tuple[float, Shape] | None:
    """Highest total tokens/s per GPU any of the shapes (with their instance counts) reaches at
    `speed` tokens/s per user, and the shape that reaches it."""
    best: tuple[float, Shape] | None = None
    for s in shapes:
        val = value_at(throughput_curve(s, isl, osl), speed)
        if val is not None and (best is None or val > best[0]):
            best = (val, s)
    return best


@dataclass(frozen=True)
class WorkloadStats:
    """Per-request means of a trajectory set, as the agents replay it."""

    prompt_tokens: float
    new_tokens: float
    """Prompt tokens not covered by the previous turn's prompt (what a prefix cache leaves)."""
    output_tokens: float
    tool_delay_s: float
    parallelism: float = 1.0
    """Requests an agent keeps in flight for each one a linear agent would (1: linear; more
    when a tree's sub-agents run side by side): an agent's load is that many request cycles."""


@dataclass(frozen=True)
class Capacity:
    agents: int
    bound: str
    limits: dict[str, float]
    """Agents each limit alone would allow."""
    speed: float
    """Modelled decode speed per sequence at the binding batch (tokens/s)."""

    @property
    def held(self) -> float:
        """Agents the decode slots or the KV cache (whichever holds fewer sequences) keep busy
        with every reply streaming at the reference speed: past this, requests queue for a
        slot whatever the rest of the shape does."""
        return min(self.limits["batch cap"], self.limits["KV memory"])


def agents_holding(seqs: float, w: WorkloadStats, speed: float) -> float:
    """Agents that keep `seqs` sequences busy when each reply streams at `speed` tokens/s: an
    agent occupies a sequence slot while its reply streams and none while its tool runs (a
    tree's agent: `parallelism` slots' worth of such cycles)."""
    busy = w.output_tokens / max(speed, 1e-9)
    cycle = busy + w.tool_delay_s + 1.0
    return seqs * cycle / max(busy, 1e-9) / max(1.0, w.parallelism)


def replicas_held(dep: Deployment, w: WorkloadStats, speed_slo: float, p25_margin: float = 1.15) -> float:
    """`Capacity.held` for a deployment of identical replicas (the replica engine): their
    running-sequence slots, or the sequences their KV cache holds, at the tier's speed with the
    P25 margin."""
    kv_seqs = dep.kv_capacity_tokens / max(1.0, w.prompt_tokens + w.output_tokens)
    per_replica = min(float(dep.engine.max_num_seqs), kv_seqs)
    return agents_holding(dep.replicas * per_replica, w, speed_slo * p25_margin)


def agent_capacity(
    shape: Shape, w: WorkloadStats, speed_slo: float, ttft_slo: float, p25_margin: float = 1.15
) -> Capacity:
    """Agents the shape holds with every sequence decoding at `speed_slo` x `p25_margin`
    and each prompt prefilled well within `ttft_slo`; the smallest limit names the bound."""
    dc = shape.decode_cost
    pc = shape.prefill_cost or dc
    ranks = dc.ranks * shape.decode_instances
    target = speed_slo * p25_margin
    seq_tokens = w.prompt_tokens + w.output_tokens
    kv_b = max(0, int(dc.kv_tokens_per_rank // max(1.0, seq_tokens)))
    cap_b = dc.pool.max_batch_per_rank
    # decode-bandwidth limit: largest batch per rank still at the target speed
    ctx = w.prompt_tokens + w.output_tokens / 2
    speed_b = 0
    speed_at = 0.0
    for b in range(1, cap_b + 1):
        prefill = 0.0
        if not shape.disaggregated:
            prefill = b * dc.accept * w.new_tokens / max(1.0, w.output_tokens)
        s = dc.accept / dc.step(b, b * ctx, prefill, prefill * ctx, prefill and w.prompt_tokens).duration
        if s < target:
            break
        speed_b, speed_at = b, s
    if speed_b == 0:
        speed_at = dc.accept / dc.step(1, ctx, 0.0).duration

    def agents(batch_per_rank: int, speed: float) -> float:
        return agents_holding(batch_per_rank * ranks, w, speed)

    s_ref = max(speed_at, target)
    limits = {
        "batch cap": agents(cap_b, s_ref),
        "KV memory": agents(kv_b, s_ref),
        "decode bandwidth": agents(speed_b, s_ref),
    }
    # prefill compute: prompt tokens per second the prefill side sustains
    rate = _prefill_rate(pc, w.prompt_tokens) * pc.gpus * (shape.prefill_instances or 1)
    if not shape.disaggregated:
        rate *= 0.5  # aggregated instances spend their steps on decode too
    per_agent = max(1.0, w.parallelism) * w.new_tokens / (w.output_tokens / s_ref + w.tool_delay_s + 1.0)
    limits["prefill compute"] = 0.8 * rate / max(per_agent, 1e-9)
    # TTFT: one prompt's own prefill time must stay well inside the SLO (queueing comes on top)
    chunk_t = pc.step(
        0, 0.0, float(pc.pool.max_batched_tokens), pc.pool.max_batched_tokens * ctx / 2, 0.0
    ).duration
    own = chunk_t * math.ceil(w.new_tokens / pc.pool.max_batched_tokens)
    if own > ttft_slo:
        limits["TTFT queueing"] = 0.0
    bound = min(limits, key=lambda k: limits[k])
    return Capacity(agents=int(limits[bound]), bound=bound, limits=limits, speed=speed_at)
