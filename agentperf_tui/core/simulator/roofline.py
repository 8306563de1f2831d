"""Roofline cost of one engine step of one replica.

A step processes some prefill tokens (chunks of prompts) and one token for each decoding
sequence. Its time is the larger of compute time (GEMM FLOPs for every token plus attention
FLOPs over the context) and memory time (weights streamed once per step, MoE experts touched by
the step's tokens, KV-cache reads and writes), plus collective communication between the
replica's GPUs and a fixed per-step overhead. See docs/simulator.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentperf_tui.core.simulator.profiles import Deployment

MEMORY_POWER_WEIGHT = 0.7
"""A fully memory-bound step draws this fraction of the idle-to-TDP range."""
COMM_POWER_WEIGHT = 0.3


def activity_of(duration: float, compute_s: float, memory_s: float, comm_s: float) -> float:
    """0..1 position between idle and TDP power while a step of these parts runs."""
    if duration <= 0:
        return 0.0
    a = max(compute_s, MEMORY_POWER_WEIGHT * memory_s) / duration + COMM_POWER_WEIGHT * comm_s / duration
    return min(1.0, a)


@dataclass(slots=True)
class StepCost:
    duration: float
    compute_s: float
    memory_s: float
    comm_s: float
    overhead_s: float

    @property
    def activity(self) -> float:
        """0..1 position between idle and TDP power while this step runs."""
        return activity_of(self.duration, self.compute_s, self.memory_s, self.comm_s)


class Roofline:
    def __init__(self, dep: Deployment) -> None:
        m, e = dep.model, dep.engine
        self.flops = dep.replica_flops
        self.bandwidth = dep.replica_bandwidth
        self.gemm_flops_per_token = 2.0 * m.active_params_b * 1e9
        self.attn_flops_ctx = float(m.attn_flops_per_ctx_token)
        self.attn_flops_query = float(m.attn_flops_per_query)
        self.always_bytes = m.always_params_b * 1e9 * m.weight_bytes_per_param
        self.moe = m.architecture == "moe"
        self.experts = m.routed_experts
        self.miss = 1.0 - (m.experts_per_token / m.routed_experts) if self.moe else 1.0
        self.bytes_per_expert = (m.routed_params_b * 1e9 * m.expert_weight_bytes_per_param / m.routed_experts
                                 if self.moe else 0.0)
        self.kv_read = float(m.kv_read_per_token)
        self.kv_read_query = float(m.kv_read_bytes_per_query)
        self.kv_write = float(m.kv_bytes_per_token + m.swa_kv_bytes_per_token)
        self.swa_read_per_seq = float(m.swa_kv_bytes_per_token * m.sliding_window)
        self.overhead = e.step_overhead_ms / 1e3 + m.layers * e.layer_latency_us / 1e6
        g = dep.gpus_per_replica
        self.gpus = g
        if g > 1:
            link = dep.interconnect_gbs * 1e9
            lat = e.allreduce_latency_us / 1e6
            if self.moe:
                # expert parallel: dispatch + combine all-to-all of k copies of each token's activations
                per_token = 2 * m.experts_per_token * m.hidden_size * 2 * (g - 1) / g / g
            else:
                # tensor parallel: two ring all-reduces of BF16 activations per layer
                per_token = 2 * 2 * (g - 1) / g * m.hidden_size * 2
            self.comm_fixed = m.layers * 2 * lat
            self.comm_per_token = m.layers * per_token / link
        else:
            self.comm_fixed = 0.0
            self.comm_per_token = 0.0

    def expert_bytes(self, tokens: int) -> float:
        """Expected bytes of routed experts a step reads: experts touched by any of its tokens."""
        if not self.moe or tokens <= 0:
            return 0.0
        touched = self.experts * (1.0 - self.miss ** tokens)
        return touched * self.bytes_per_expert

    def step(self, prefill_tokens: int, prefill_attn_pairs: float, prefill_ctx_tokens: int,
             decode_seqs: int, decode_ctx_tokens: int) -> StepCost:
        """Cost of one step.

        prefill_attn_pairs: sum over prefill tokens of the context each attends to;
        prefill_ctx_tokens: earlier context (already in KV) read by the prefill chunks;
        decode_ctx_tokens: sum of the context lengths of the decoding sequences.
        """
        tokens = prefill_tokens + decode_seqs
        flops = (tokens * (self.gemm_flops_per_token + self.attn_flops_query)
                 + self.attn_flops_ctx * (prefill_attn_pairs + decode_ctx_tokens))
        compute_s = flops / self.flops
        mem = (self.always_bytes + self.expert_bytes(tokens)
               + self.kv_read * (decode_ctx_tokens + prefill_ctx_tokens)
               + self.kv_read_query * tokens + self.kv_write * tokens
               + self.swa_read_per_seq * decode_seqs)
        memory_s = mem / self.bandwidth
        comm_s = self.comm_fixed + self.comm_per_token * tokens if self.gpus > 1 else 0.0
        duration = max(compute_s, memory_s) + comm_s + self.overhead
        return StepCost(duration, compute_s, memory_s, comm_s, self.overhead)
