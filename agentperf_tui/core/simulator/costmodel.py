"""Per-step cost of one serving instance of a recipe shape (rack-scale cost model).

One instance is an engine spanning `g` GPUs: `R` attention ranks (R = g with attention data
parallelism, 1 with tensor parallelism; each rank spans `g / R` GPUs) and the experts split
`ep` ways. A step processes, on every rank alike (the busiest rank sets the pace, and expert
parallelism keeps the ranks in lockstep), `B` decoding sequences (each verifying `1 + draft`
tokens under MTP) and `P` prompt tokens. Its time is the sum of three kernel groups, each the
larger of its compute and memory time (roofline), divided by an efficiency curve:

- non-expert GEMMs (attention projections, shared experts, dense FFNs): weights streamed once;
- attention: KV-cache reads, once per sequence however many query tokens MTP verifies, with an
  efficiency `C / (C + attn_half_ctx)` for a mean context C (short contexts do not reach the
  kernels' streaming bandwidth), and FLOPs per context token in the form decode computes them
  (MLA decodes absorbed: the latent as one shared key head);
- routed experts (grouped GEMM): the weights of the experts the step touches, and compute
  padded to whole tiles, so its efficiency is `n / max(n, moe_tile_tokens)` for n tokens per
  touched expert (a one-token GEMM pays for a tile), the busiest expert-parallel rank carrying
  more than the mean (`ep_imbalance`); a weight format the GPU lacks (FP4 on Hopper) runs at the
  fallback rate times `dequant_efficiency`, block-scaled FP8 experts on Blackwell at
  `fp8_moe_efficiency` of its FP4 path;

plus the exposed part of the communication (tensor-parallel all-reduces, expert-parallel
dispatch and combine, each a latency plus bytes over the fabric the instance spans: NVLink
inside the scale-up domain, the network between domains, where the dispatch latency grows with
the EP width), a per-step host overhead and a per-layer launch floor (smaller when decode steps
replay CUDA graphs), and under MTP the draft passes. Memory: HBM in binary units times the
pool's share, less activations (a fixed reserve plus a part per batched token), the weights
and the window KV; the rest holds the KV cache. The fitted constants live in
`profiles/calibration/cost-model.toml`.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentperf_tui.core.simulator.profiles import (
    HardwareProfile,
    ModelProfile,
    ProfileError,
    profile_dirs,
)
from agentperf_tui.core.simulator.recipes import PoolSpec, ShapeSpec
from agentperf_tui.core.simulator.roofline import StepCost, activity_of

Pos = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]
Frac = Annotated[float, Field(gt=0, le=1)]

DTYPE_BYTES = {"bf16": 2.0, "fp8": 1.0, "fp4": 0.5625}
"""Bytes per value as stored (FP4 with its block scales)."""

GIB = float(1 << 30)
"""HBM capacities are marketed in binary units: nvidia-smi reports 81,559 MiB on an "80 GB"
H100 and 143,771 MiB on a "141 GB" H200."""


class CostParams(BaseModel):
    """The cost model's fitted constants (see docs/simulator.md, "Calibration")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mfu: Frac = 0.35
    """Fraction of peak dense tensor throughput large GEMMs and attention reach."""
    mfu_attention: Frac = 0.35
    """Fraction of peak tensor throughput attention kernels reach."""
    mbu: Frac = 0.75
    """Fraction of peak HBM bandwidth weight and KV streaming reach."""
    moe_tile_tokens: NonNeg = 64.0
    """Rows a grouped-GEMM tile computes however few tokens an expert got (padding)."""
    attn_half_ctx: NonNeg = 1024.0
    dequant_efficiency: Frac = 0.6
    fp8_moe_efficiency: Frac = 1.0
    """Grouped-GEMM efficiency of block-scaled FP8 experts on a GPU whose tuned MoE path is FP4
    (Blackwell), relative to the FP4 kernels: applies to their compute and weight streaming."""
    step_overhead_ms: NonNeg = 2.0
    layer_us_graph: NonNeg = 8.0
    layer_us_eager: NonNeg = 25.0
    allreduce_us_scaleup: NonNeg = 8.0
    alltoall_us_scaleup: NonNeg = 12.0
    collective_us_network: NonNeg = 30.0
    exposed_comm_scaleup: Frac = 0.6
    exposed_comm_network: Frac = 1.0
    alltoall_bw_scaleup: Frac = 0.3
    """Fraction of the NVLink bandwidth expert-parallel dispatch and combine reach."""
    alltoall_bw_network: Frac = 0.8
    """Fraction of the NIC bandwidth they reach between nodes."""
    alltoall_peer_slope: NonNeg = 0.6
    """Growth of the dispatch/combine latency over RDMA per doubling of the expert-parallel
    width past 8 (DeepEP's low-latency kernels: 191 us at EP8, 313 at EP16, 428 at EP32; not
    fitted). Inside an NVLink domain every peer is written directly and the latency is taken
    as flat."""
    ep_imbalance: Annotated[float, Field(ge=1.0)] = 1.0
    """Tokens the busiest expert-parallel rank of EP8 gets over the mean (no EPLB); the excess
    grows with log2 of the width (DeepSeek's EPLB exists because it is uneven; InferenceX's
    recipes run without EPLB). Scales the expert compute and the dispatch/combine bytes of that rank."""
    mtp_draft_us: NonNeg = 250.0
    kv_transfer_ms: NonNeg = 1.0
    """Fixed latency of moving a prompt's KV cache between pools, on top of bytes / bandwidth."""
    activation_reserve_gb: NonNeg = 4.0
    """Per GPU, whatever the batch: CUDA graphs, NCCL/DeepEP buffers, the allocator's slack."""
    activation_bytes_per_token: NonNeg = 8.0
    """Transient activation bytes per batched token, in units of the model's hidden size x 2 B
    (residual, norms, attention output, MoE dispatch and combine buffers): the chunked-prefill
    budget of a rank reserves this much HBM on each of its GPUs."""
    gpu_memory_utilization: Frac = 0.9
    error_spread: NonNeg = 0.25
    """Relative spread of the calibration errors (the plausible range `plan` prints)."""


def cost_model_file() -> Path:
    """`calibration/cost-model.toml` on the profile search path (the first that exists, else
    where the first profile folder would hold it)."""
    dirs = profile_dirs()
    for d in dirs:
        f = d / "calibration" / "cost-model.toml"
        if f.is_file():
            return f
    return dirs[0] / "calibration" / "cost-model.toml"


def load_cost_params() -> CostParams:
    """The fitted constants from `profiles/calibration/cost-model.toml` (defaults if absent)."""
    for d in profile_dirs():
        f = d / "calibration" / "cost-model.toml"
        if f.is_file():
            try:
                data = tomllib.loads(f.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise ProfileError(f, None, f"cannot read: {e}") from e
            try:
                return CostParams.model_validate(data.get("params", {}))
            except ValidationError as e:
                first = e.errors()[0]
                field = "params." + ".".join(str(p) for p in first.get("loc", ()))
                raise ProfileError(f, field, str(first.get("msg", "invalid value"))) from e
    return CostParams()


@dataclass(frozen=True)
class Fabric:
    name: str
    """"nvlink" inside the scale-up domain, "network" across it."""
    bytes_per_s: float
    alltoall_bytes_per_s: float
    """One-direction bandwidth per GPU."""
    latency_s: float
    alltoall_s: float
    exposed: float


def ep_latency_factor(ep: int, p: CostParams) -> float:
    """Dispatch/combine latency over RDMA at `ep` ranks relative to EP8 (more peers, more
    messages)."""
    return max(0.4, 1.0 + p.alltoall_peer_slope * math.log2(max(1, ep) / 8))


def fabric_for(hw: HardwareProfile, gpus: int, p: CostParams) -> Fabric:
    if gpus <= hw.scaleup_domain_gpus:
        bw = hw.scaleup_bandwidth_gbs / 2 * 1e9
        return Fabric(
            "nvlink",
            bw,
            bw * p.alltoall_bw_scaleup,
            p.allreduce_us_scaleup / 1e6,
            p.alltoall_us_scaleup / 1e6,
            p.exposed_comm_scaleup,
        )
    net = p.collective_us_network / 1e6
    bw = hw.scaleout_bandwidth_gbs * 1e9
    return Fabric("network", bw, bw * p.alltoall_bw_network, net, net, p.exposed_comm_network)


def _dense_dtype(m: ModelProfile) -> str:
    return "bf16" if m.weight_bytes_per_param >= 2 else "fp8"


class PoolCost:
    """Step cost and memory figures of one instance of a pool (`gpus` GPUs)."""

    def __init__(
        self,
        hw: HardwareProfile,
        m: ModelProfile,
        shape: ShapeSpec,
        pool: PoolSpec,
        gpus: int,
        params: CostParams,
    ) -> None:
        self.hw, self.model, self.shape, self.pool, self.params = hw, m, shape, pool, params
        g = gpus
        self.gpus = g
        self.ranks = pool.ranks(g)
        ta = g // self.ranks
        self.attn_tp = ta
        moe = m.architecture == "moe"
        self.moe = moe
        self.ep = g if (moe and pool.experts == "ep") else 1
        self.etp = g // self.ep if moe else 1
        self.fabric = fabric_for(hw, g, params)
        self.ep_latency = ep_latency_factor(self.ep, params) if self.fabric.name == "network" else 1.0
        self.ep_load = 1.0 + (params.ep_imbalance - 1.0) * math.log2(self.ep) / 3.0 if self.ep > 1 else 1.0
        # formats
        dense = _dense_dtype(m)
        expert_dtype = m.compute_dtype if shape.weights == "model" else shape.weights
        self.expert_bytes_pp = (
            m.expert_weight_bytes_per_param if shape.weights == "model" else DTYPE_BYTES[shape.weights]
        )
        ce, be = params.mfu, params.mbu
        self.dense_rate = hw.tflops(dense) * 1e12 * ce
        self.expert_bw_scale = 1.0
        if hw.tflops(expert_dtype) > 0:
            self.expert_rate = hw.tflops(expert_dtype) * 1e12 * ce
            self.dequant = False
            if expert_dtype == "fp8" and hw.fp4_dense_tflops > 0:
                self.expert_rate *= params.fp8_moe_efficiency
                self.expert_bw_scale = params.fp8_moe_efficiency
        else:
            self.expert_rate = hw.tflops(m.fallback_dtype) * 1e12 * ce * params.dequant_efficiency
            self.dequant = True
        self.attn_rate = (
            hw.tflops("bf16" if shape.kv_cache_dtype == "bf16" else "fp8") * 1e12 * params.mfu_attention
        )
        self.bw = hw.hbm_bandwidth_tbs * 1e12 * be
        # per-GPU weights
        self.dense_bytes = m.always_params_b * 1e9 * m.weight_bytes_per_param
        self.expert_total_bytes = m.routed_params_b * 1e9 * self.expert_bytes_pp
        self.weights_per_gpu = self.dense_bytes / ta + self.expert_total_bytes / g
        # KV
        kv_scale = DTYPE_BYTES[shape.kv_cache_dtype] / DTYPE_BYTES[m.kv_dtype]
        split = min(ta, m.kv_heads)
        self.kv_token_bytes = m.kv_bytes_per_token * kv_scale / split
        """KV bytes per context token held on each GPU of a rank."""
        self.kv_read = m.kv_read_per_token * kv_scale / split
        self.kv_read_query = m.kv_read_bytes_per_query * kv_scale / split
        self.swa_seq_bytes = m.swa_kv_bytes_per_token * m.sliding_window * kv_scale / split
        util = pool.gpu_memory_utilization or params.gpu_memory_utilization
        self.activation_bytes = (
            params.activation_reserve_gb * GIB
            + params.activation_bytes_per_token * m.hidden_size * 2.0 * pool.max_batched_tokens
        )
        free = (
            hw.hbm_gb * GIB * util
            - self.activation_bytes
            - self.weights_per_gpu
            - self.swa_seq_bytes * pool.max_batch_per_rank
        )
        self.free_bytes_per_gpu = free
        self.kv_tokens_per_rank = max(0, int(free // self.kv_token_bytes)) if self.kv_token_bytes else 0
        # constants per step
        self.layers = m.layers
        self.hidden = m.hidden_size
        self.k = m.experts_per_token if moe else 0
        self.experts = m.routed_experts if moe else 0
        self.bytes_per_expert = self.expert_total_bytes / self.experts if moe else 0.0
        self.gemm_dense_flops = 2.0 * m.always_params_b * 1e9
        self.gemm_expert_flops = 2.0 * m.routed_active_params_b * 1e9
        self.attn_ctx = float(m.attn_flops_per_ctx_token)
        self.attn_ctx_decode = float(
            m.attn_flops_per_ctx_token_decode
            if m.attn_flops_per_ctx_token_decode is not None
            else m.attn_flops_per_ctx_token
        )
        self.attn_query = float(m.attn_flops_per_query)
        mtp = shape.mtp
        self.q = 1 + (mtp.draft_tokens if mtp else 0)
        self.accept = mtp.acceptance_length if mtp else 1.0
        self.draft_tokens = mtp.draft_tokens if mtp else 0
        if shape.kv_transfer == "scaleup":
            bw = hw.scaleup_bandwidth_gbs / 2 * 1e9
        else:
            bw = hw.scaleout_bandwidth_gbs * 1e9
        self._xfer_fixed_s = params.kv_transfer_ms / 1e3
        self._xfer_heads = min(self.attn_tp, m.kv_heads)
        self._xfer_bw = bw * max(1, self.attn_tp)
        self._fixed: dict[tuple[float, float], tuple[Any, ...]] = {}
        """Context-independent step terms by (sequences, prompt tokens) per rank."""

    @property
    def fits(self) -> bool:
        """The weights fit with room for at least one max-length-ish batch of KV."""
        return self.kv_tokens_per_rank >= 4096

    def step(
        self,
        decode_seqs: float,
        decode_ctx: float,
        prefill_tokens: float,
        prefill_pairs: float = 0.0,
        prefill_ctx: float = 0.0,
    ) -> StepCost:
        """Cost of one step in which every rank holds `decode_seqs` decoding sequences whose
        contexts sum to `decode_ctx`, and takes `prefill_tokens` prompt tokens (attending over
        `prefill_pairs` context-token pairs in all, `prefill_ctx` earlier context read)."""
        return StepCost(*self._parts(decode_seqs, decode_ctx, prefill_tokens, prefill_pairs, prefill_ctx))

    def step_time(
        self, decode_seqs: float, decode_ctx: float, prefill_tokens: float, prefill_pairs: float,
        prefill_ctx: float,
    ) -> tuple[float, float]:
        """(duration, activity) of `step(...)`: what the engines need each step."""
        d, compute, memory, comm, _ = self._parts(
            decode_seqs, decode_ctx, prefill_tokens, prefill_pairs, prefill_ctx
        )
        return d, activity_of(d, compute, memory, comm)

    def _parts(
        self, decode_seqs: float, decode_ctx: float, prefill_tokens: float, prefill_pairs: float,
        prefill_ctx: float,
    ) -> tuple[float, float, float, float, float]:
        """`step`'s (duration, compute, memory, communication, overhead) seconds."""
        key = (decode_seqs, prefill_tokens)
        fixed = self._fixed.get(key)
        if fixed is None:
            fixed = self._fixed_terms(decode_seqs, prefill_tokens)
            if fixed is None:
                return (0.0, 0.0, 0.0, 0.0, 0.0)
            if len(self._fixed) < 65536:
                self._fixed[key] = fixed
        (q, seqs_den, c_dense, m_dense, t_dense, c_exp, m_exp, t_exp, exposed, overhead, kv_query,
         kv_written, swa, attn_query, draft_on) = fixed
        # attention: the only part that depends on the contexts
        c_attn = (
            self.attn_ctx_decode * q * decode_ctx + self.attn_ctx * prefill_pairs + attn_query
        ) / self.attn_tp / self.attn_rate
        m_attn = (self.kv_read * (decode_ctx + prefill_ctx) + kv_query + kv_written + swa) / self.bw
        half = self.params.attn_half_ctx
        if half:
            ctx_mean = (decode_ctx + prefill_ctx) / seqs_den
            eff_attn = (ctx_mean + 1.0) / (ctx_mean + 1.0 + half)
        else:
            eff_attn = 1.0
        t_attn = max(c_attn, m_attn / eff_attn)
        work = t_dense + t_attn + t_exp
        draft = 0.0
        if draft_on:
            draft = self.draft_tokens * (work / self.layers + self.params.mtp_draft_us / 1e6)
        duration = work + exposed + overhead + draft
        return (duration, c_dense + c_attn + c_exp, m_dense + m_attn + m_exp, exposed, overhead + draft)

    def _fixed_terms(self, decode_seqs: float, prefill_tokens: float) -> tuple[Any, ...] | None:
        """The parts of a step's cost that its contexts do not change (None: an empty step)."""
        p = self.params
        ta = self.attn_tp
        q = self.q if decode_seqs > 0 else 1
        t_rank = decode_seqs * q + prefill_tokens
        if t_rank <= 0:
            return None
        t_inst = t_rank * self.ranks
        # non-expert GEMMs
        c_dense = self.gemm_dense_flops * t_rank / ta / self.dense_rate
        m_dense = self.dense_bytes / ta / self.bw
        t_dense = max(c_dense, m_dense)
        # routed experts
        c_exp = m_exp = t_exp = 0.0
        if self.moe:
            routed = t_inst * self.k
            touched = self.experts * (1.0 - (1.0 - self.k / self.experts) ** t_inst)
            n = routed / touched
            padded = max(n, p.moe_tile_tokens) / n
            c_exp = self.gemm_expert_flops * t_inst * padded * self.ep_load / self.gpus / self.expert_rate
            m_exp = touched * self.bytes_per_expert / self.gpus / (self.bw * self.expert_bw_scale)
            t_exp = max(c_exp, m_exp)
        # communication (per GPU)
        f = self.fabric
        comm = 0.0
        act = self.hidden * 2.0
        if ta > 1:
            comm += self.layers * 2 * (f.latency_s + t_rank * act * 2 * (ta - 1) / ta / f.bytes_per_s)
        if self.moe and self.ep > 1:
            per_gpu_tokens = t_rank / ta
            comm += self.layers * (
                2 * f.alltoall_s * self.ep_latency
                + per_gpu_tokens
                * self.ep_load
                * self.k
                * self.hidden
                * 3.0
                * (self.ep - 1)
                / self.ep
                / f.alltoall_bytes_per_s
            )
        if self.moe and self.etp > 1 and ta == 1:
            comm += self.layers * (f.latency_s + t_rank * act * 2 * (self.etp - 1) / self.etp / f.bytes_per_s)
        exposed = comm * f.exposed
        graphs = self.pool.cuda_graphs and prefill_tokens == 0
        overhead = (
            p.step_overhead_ms / 1e3 + self.layers * (p.layer_us_graph if graphs else p.layer_us_eager) / 1e6
        )
        seqs_den = max(1.0, decode_seqs + (1.0 if prefill_tokens else 0.0))
        return (
            q,
            seqs_den,
            c_dense,
            m_dense,
            t_dense,
            c_exp,
            m_exp,
            t_exp,
            exposed,
            overhead,
            self.kv_read_query * decode_seqs * q,
            self.kv_token_bytes * t_rank,
            self.swa_seq_bytes * decode_seqs,
            self.attn_query * t_rank,
            bool(self.draft_tokens and decode_seqs > 0),
        )

    def kv_transfer_s(self, tokens: int, dst: PoolCost) -> float:
        """Time to move a prompt's KV cache from this (prefill) pool to `dst` (decode)."""
        return self._xfer_fixed_s + tokens * self.kv_token_bytes * self._xfer_heads / self._xfer_bw
