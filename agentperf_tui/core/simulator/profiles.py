"""Hardware and model profiles (TOML data) and the deployment built from them.

A profile is a TOML file under `profiles/hardware/` or `profiles/models/`; every figure carries
its public source in a comment there. The loader validates with pydantic and names the file and
field on any error. `Deployment` combines one hardware profile, one model profile, a replica
shape (GPUs per replica, number of replicas) and the serving-engine settings, and derives what
the engine model needs: weight bytes, KV-cache blocks per replica, peak rates per replica.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentperf_tui.core import fmt
from agentperf_tui.core.data_paths import profile_dir_candidates

Pos = Annotated[float, Field(gt=0)]
NonNegF = Annotated[float, Field(ge=0)]
PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]


class ProfileError(ValueError):
    """A profile cannot be found or is invalid. The message names the file and the field."""

    def __init__(self, path: Path | str | None, field: str | None, message: str) -> None:
        self.path = None if path is None else str(path)
        self.field = field
        self.reason = message
        where = self.path or "profiles"
        if field:
            where += f" (field '{field}')"
        super().__init__(f"{where}: {message}")


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HardwareProfile(_Profile):
    """One GPU type and the system it comes in. Rates are dense (no sparsity), per GPU."""

    name: Annotated[str, Field(min_length=1)]
    display_name: str
    gpus_per_node: PosInt
    """GPUs in one node or rack-scale system (8 for HGX, 72 for NVL72)."""
    scaleup_domain_gpus: PosInt
    """GPUs reachable over the scale-up fabric (NVLink)."""
    hbm_gb: Pos
    hbm_bandwidth_tbs: Pos
    bf16_dense_tflops: Pos
    fp8_dense_tflops: Pos
    fp4_dense_tflops: NonNegF = 0.0
    """0 when the GPU has no FP4 tensor cores."""
    tdp_w: Pos
    idle_w: Pos
    scaleup_bandwidth_gbs: Pos
    """Scale-up (NVLink) bandwidth per GPU, both directions together."""
    scaleout_bandwidth_gbs: Pos
    """Network bandwidth per GPU between nodes."""
    compute_efficiency: Annotated[float, Field(gt=0, le=1)] = 0.55
    """Fraction of peak tensor throughput large GEMMs reach (prefill MFU)."""
    bandwidth_efficiency: Annotated[float, Field(gt=0, le=1)] = 0.75
    """Fraction of peak HBM bandwidth weight and KV streaming reach."""

    @model_validator(mode="after")
    def _check(self) -> HardwareProfile:
        if self.idle_w >= self.tdp_w:
            raise ValueError("idle_w must be below tdp_w")
        if self.scaleup_domain_gpus < 1 or self.gpus_per_node < 1:
            raise ValueError("GPU counts must be positive")
        return self

    @property
    def gpu_count(self) -> int:
        """GPUs in one node or system (the default GPU count for per-GPU figures)."""
        return self.gpus_per_node

    def tflops(self, dtype: str) -> float:
        return {"bf16": self.bf16_dense_tflops, "fp8": self.fp8_dense_tflops,
                "fp4": self.fp4_dense_tflops}[dtype]


class ModelProfile(_Profile):
    """What serving one model costs: parameters, weight bytes, KV bytes, attention FLOPs."""

    name: Annotated[str, Field(min_length=1)]
    display_name: str
    hf_id: str = ""
    architecture: Literal["dense", "moe"]
    total_params_b: Pos
    active_params_b: Pos
    weight_bytes_per_param: Pos
    """Bytes per parameter of everything that is not a routed expert (all weights when dense)."""
    compute_dtype: Literal["bf16", "fp8", "fp4"]
    fallback_dtype: Literal["bf16", "fp8"] = "bf16"
    """Rate used when the GPU lacks `compute_dtype` tensor cores."""
    layers: PosInt
    hidden_size: PosInt
    routed_experts: NonNegInt = 0
    experts_per_token: NonNegInt = 0
    routed_params_b: NonNegF = 0.0
    expert_weight_bytes_per_param: NonNegF = 0.0
    kv_bytes_per_token: PosInt
    """KV bytes per token of context that grows with the sequence (all layers)."""
    kv_dtype: Literal["bf16", "fp8"] = "bf16"
    """The dtype `kv_bytes_per_token` is counted in (a recipe's KV-cache dtype scales it)."""
    kv_heads: PosInt = 8
    """KV heads per layer: how many ways tensor parallelism can split the KV cache (1 for MLA/MQA,
    whose single latent head every tensor-parallel rank holds whole)."""
    swa_kv_bytes_per_token: NonNegInt = 0
    sliding_window: NonNegInt = 0
    kv_read_bytes_per_token: NonNegInt | None = None
    """KV bytes one decode step reads per context token (default: all of kv_bytes_per_token)."""
    kv_read_bytes_per_query: NonNegInt = 0
    """Fixed KV bytes read per query token (sparse attention's selected entries)."""
    attn_flops_per_ctx_token: NonNegInt
    """Attention FLOPs per query token per context token, all layers."""
    attn_flops_per_ctx_token_decode: NonNegInt | None = None
    """The same for decode, when its kernels compute attention another way (MLA decodes in the
    absorbed form: the 576-dim latent as one shared key head, 512-dim values); default: as
    prefill. Used by the rack-scale cost model."""
    attn_flops_per_query: NonNegInt = 0
    max_model_len: PosInt

    @model_validator(mode="after")
    def _check(self) -> ModelProfile:
        if self.active_params_b > self.total_params_b:
            raise ValueError("active_params_b cannot exceed total_params_b")
        if self.architecture == "moe":
            for f in ("routed_experts", "experts_per_token", "routed_params_b",
                      "expert_weight_bytes_per_param"):
                if not getattr(self, f):
                    raise ValueError(f"a moe model needs {f} > 0")
            if self.experts_per_token > self.routed_experts:
                raise ValueError("experts_per_token cannot exceed routed_experts")
            if self.routed_active_params_b >= self.active_params_b:
                raise ValueError("routed_params_b * experts_per_token / routed_experts must be "
                                 "below active_params_b")
            implied = self.always_params_b + self.routed_params_b
            if abs(implied - self.total_params_b) > 0.05 * self.total_params_b:
                raise ValueError(
                    f"parameters do not add up: non-routed ({self.always_params_b:.1f}B, from "
                    f"active - routed active) + routed ({self.routed_params_b:.1f}B) = {implied:.1f}B, "
                    f"more than 5% away from total_params_b ({self.total_params_b}B)")
        elif self.routed_experts or self.routed_params_b:
            raise ValueError("a dense model must not set routed_experts or routed_params_b")
        if self.swa_kv_bytes_per_token and not self.sliding_window:
            raise ValueError("swa_kv_bytes_per_token needs sliding_window")
        return self

    @property
    def routed_active_params_b(self) -> float:
        if self.architecture != "moe":
            return 0.0
        return self.routed_params_b * self.experts_per_token / self.routed_experts

    @property
    def always_params_b(self) -> float:
        """Parameters every token touches (attention, shared experts, embeddings, dense FFNs)."""
        return self.active_params_b - self.routed_active_params_b

    @property
    def weight_bytes(self) -> float:
        """Bytes of all weights, as served."""
        return (self.always_params_b * self.weight_bytes_per_param
                + self.routed_params_b * self.expert_weight_bytes_per_param) * 1e9

    @property
    def kv_read_per_token(self) -> int:
        if self.kv_read_bytes_per_token is None:
            return self.kv_bytes_per_token
        return self.kv_read_bytes_per_token


class EngineConfig(_Profile):
    """Serving-engine settings (vLLM V1 defaults on large GPUs where one exists)."""

    block_size: PosInt = 16
    max_num_seqs: PosInt = 256
    max_num_batched_tokens: PosInt = 8192
    """Chunked-prefill token budget per step."""
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)] = 0.9
    activation_reserve_gb: NonNegF = 2.0
    """Per GPU: activations, CUDA graphs, NCCL buffers kept out of the KV pool."""
    step_overhead_ms: NonNegF = 1.5
    """Scheduler, input preparation and kernel launch per engine step."""
    layer_latency_us: NonNegF = 25.0
    """Per layer and step: the latency floor of a layer's kernels (launch, sync), paid even when
    the step moves few bytes; it is what keeps a small batch from running at pure bandwidth speed."""
    allreduce_latency_us: NonNegF = 8.0
    eos_mean_tokens: Pos = 400.0
    """Mean natural reply length without ignore_eos (a geometric EOS chance per token)."""
    prefix_caching: bool = True


_P = TypeVar("_P", bound=_Profile)


def profile_dirs() -> list[Path]:
    """Folders holding hardware/ or models/ profiles, in lookup order (first match wins):
    `$AGENTPERF_PROFILES`, `profiles/` of a source checkout, `agentperf_tui/data/profiles/` of an
    installed package (see core/data_paths.py)."""
    return [d for d in profile_dir_candidates() if (d / "hardware").is_dir() or (d / "models").is_dir()]


def _load_file(path: Path, model: type[_P]) -> _P:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ProfileError(path, None, f"cannot read: {e.strerror or e}") from e
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ProfileError(path, None, f"not valid TOML: {e}") from e
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise ProfileError(path, field, str(first.get("msg", "invalid value"))) from e


def _find(kind: str, name: str) -> Path:
    p = Path(name)
    if p.suffix == ".toml" or os.sep in name:
        if not p.is_file():
            raise ProfileError(p, None, "no such profile file")
        return p
    dirs = profile_dirs()
    for d in dirs:
        f = d / kind / f"{name}.toml"
        if f.is_file():
            return f
    known = list_profiles(kind)
    where = ", ".join(str(d / kind) for d in dirs) or "no profiles directory found"
    raise ProfileError(None, kind, f"unknown {kind} profile '{name}'; known: {', '.join(known) or 'none'} "
                       f"(looked in {where}; or pass a path to a .toml file)")


def list_profiles(kind: str) -> list[str]:
    """Names of the profiles of one kind ("hardware" or "models") found on the search path."""
    names: set[str] = set()
    for d in profile_dirs():
        names.update(f.stem for f in (d / kind).glob("*.toml"))
    return sorted(names)


def load_hardware(name: str) -> HardwareProfile:
    """Load a hardware profile by name (`h100-sxm`) or by path to a TOML file."""
    path = _find("hardware", name)
    return _load_file(path, HardwareProfile)


def load_model(name: str) -> ModelProfile:
    """Load a model profile by name (`gpt-oss-120b`) or by path to a TOML file."""
    path = _find("models", name)
    return _load_file(path, ModelProfile)


@dataclass(frozen=True)
class Deployment:
    """A model served on `replicas` independent replicas of `gpus_per_replica` GPUs each."""

    hardware: HardwareProfile
    model: ModelProfile
    gpus_per_replica: int
    replicas: int
    engine: EngineConfig

    @property
    def gpu_count(self) -> int:
        return self.gpus_per_replica * self.replicas

    @property
    def block_size(self) -> int:
        return self.engine.block_size

    @property
    def label(self) -> str:
        gpus = f"{self.gpus_per_replica} x {self.hardware.name}"
        if self.replicas > 1:
            gpus = f"{self.replicas} replicas of {gpus}"
        return f"{self.model.name} on {gpus} (simulated)"

    @property
    def compute_dtype(self) -> str:
        d = self.model.compute_dtype
        if self.hardware.tflops(d) <= 0:
            return self.model.fallback_dtype
        return d

    @property
    def replica_flops(self) -> float:
        """Sustained FLOP/s of one replica at the model's compute precision."""
        hw = self.hardware
        return hw.tflops(self.compute_dtype) * 1e12 * hw.compute_efficiency * self.gpus_per_replica

    @property
    def replica_bandwidth(self) -> float:
        """Sustained HBM bytes/s of one replica."""
        hw = self.hardware
        return hw.hbm_bandwidth_tbs * 1e12 * hw.bandwidth_efficiency * self.gpus_per_replica

    @property
    def interconnect_gbs(self) -> float:
        """One-direction bandwidth per GPU of the fabric the replica's collectives cross."""
        hw = self.hardware
        if self.gpus_per_replica <= hw.scaleup_domain_gpus:
            return hw.scaleup_bandwidth_gbs / 2
        return hw.scaleout_bandwidth_gbs

    @property
    def kv_pool_bytes(self) -> float:
        """Bytes of one replica left for the KV cache after weights, activations and window KV."""
        hw, m, e = self.hardware, self.model, self.engine
        usable = hw.hbm_gb * 1e9 * e.gpu_memory_utilization * self.gpus_per_replica
        reserve = e.activation_reserve_gb * 1e9 * self.gpus_per_replica
        swa = m.swa_kv_bytes_per_token * m.sliding_window * e.max_num_seqs
        return usable - reserve - m.weight_bytes - swa

    @property
    def num_blocks(self) -> int:
        """KV-cache blocks of one replica."""
        per_block = self.model.kv_bytes_per_token * self.engine.block_size
        return max(0, int(self.kv_pool_bytes // per_block))

    @property
    def kv_capacity_tokens(self) -> int:
        return self.num_blocks * self.engine.block_size

    def describe(self) -> str:
        m = self.model
        return (f"{self.label}: weights {m.weight_bytes / 1e9:.1f} GB per replica, KV cache "
                f"{self.kv_capacity_tokens:,} tokens per replica ({self.num_blocks:,} blocks of "
                f"{self.engine.block_size}), {fmt.plural(self.gpu_count, 'GPU')} in all")


def auto_gpus_per_replica(hw: HardwareProfile, model: ModelProfile, engine: EngineConfig) -> int:
    """Smallest power of two whose memory holds the weights with at least a third left for KV."""
    usable_per_gpu = hw.hbm_gb * 1e9 * engine.gpu_memory_utilization - engine.activation_reserve_gb * 1e9
    g = 1
    while model.weight_bytes > usable_per_gpu * g * (2 / 3):
        g *= 2
        if g > 4096:
            break
    return g


def load_deployment(
    hardware: str | HardwareProfile,
    model: str | ModelProfile,
    replicas: int | None = None,
    gpus_per_replica: int | None = None,
    engine: EngineConfig | None = None,
) -> Deployment:
    """Build a deployment; defaults: one replica, the smallest replica that holds the weights.

    Raises ProfileError when a profile is missing or invalid, or when the replica cannot hold
    the model's weights (the message says how many GPUs per replica would).
    """
    hw = hardware if isinstance(hardware, HardwareProfile) else load_hardware(hardware)
    m = model if isinstance(model, ModelProfile) else load_model(model)
    eng = engine or EngineConfig()
    if replicas is not None and replicas < 1:
        raise ProfileError(None, "replicas", f"must be at least 1, got {replicas}")
    if gpus_per_replica is not None and gpus_per_replica < 1:
        raise ProfileError(None, "gpus_per_replica", f"must be at least 1, got {gpus_per_replica}")
    g = gpus_per_replica or auto_gpus_per_replica(hw, m, eng)
    dep = Deployment(hardware=hw, model=m, gpus_per_replica=g, replicas=replicas or 1, engine=eng)
    min_blocks = math.ceil(4096 / eng.block_size)
    if dep.num_blocks < min_blocks:
        need = auto_gpus_per_replica(hw, m, eng)
        raise ProfileError(
            None, "gpus_per_replica",
            f"{m.name} needs {m.weight_bytes / 1e9:.0f} GB of weights; {g} x {hw.name} "
            f"({hw.hbm_gb:g} GB each) leaves {max(0.0, dep.kv_pool_bytes) / 1e9:.1f} GB for the KV "
            f"cache, too little; use --gpus-per-replica {max(need, g * 2)} or more")
    return dep
