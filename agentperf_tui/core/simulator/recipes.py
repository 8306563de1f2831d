"""Deployment recipes: how a model is served on a hardware profile, as validated TOML data.

A recipe file (`profiles/recipes/<model>/<hardware>.toml`) holds one or more shapes, each
following a public serving recipe that it cites: aggregated (prefill and decode on the same
GPUs, chunked prefill) or disaggregated (separate prefill and decode pools, the KV cache moved
between them), with per-pool parallelism (attention tensor- or data-parallel, experts
expert-parallel or tensor-parallel), the batch each attention rank may hold, the chunk of
prompt tokens a rank takes per step, the KV-cache dtype, the weight format and speculative
decoding (MTP). Pool sizes are lists: the planner chooses among them (and how many instances
of each pool) to fill a GPU budget. Errors name the file and the field (`ProfileError`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentperf_tui.core.simulator.profiles import ProfileError, profile_dirs

PosInt = Annotated[int, Field(gt=0)]
RECIPE_SCHEMA = "agentperf-recipe/1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PoolSpec(_Strict):
    """One pool of identical serving instances (an engine spanning `gpus` GPUs)."""

    gpus: Annotated[tuple[PosInt, ...], Field(min_length=1)]
    """GPUs per instance the planner may choose from (e.g. [8, 16, 32] for wide EP)."""
    attention: Literal["tp", "dp"] = "tp"
    """Attention tensor-parallel over the instance's GPUs, or data-parallel (one rank per GPU)."""
    experts: Literal["ep", "tp"] = "ep"
    """MoE experts split over the GPUs (expert parallel) or every expert sharded (tensor parallel)."""
    max_batch_per_rank: PosInt = 256
    """Running sequences one attention rank may hold (max-num-seqs / max-running-requests)."""
    max_batched_tokens: PosInt = 8192
    """Prompt-plus-decode tokens one attention rank takes per step (the chunked-prefill budget)."""
    cuda_graphs: bool = True
    """Decode steps replayed from CUDA graphs (smaller per-layer launch floor)."""
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)] | None = None
    """The engine's share of HBM (vLLM --gpu-memory-utilization, SGLang --mem-fraction-static);
    None: the cost model's default."""

    def ranks(self, gpus: int) -> int:
        """Attention ranks (independent batches) in an instance of `gpus` GPUs."""
        return gpus if self.attention == "dp" else 1


class MtpSpec(_Strict):
    """Multi-token prediction (speculative decoding with the model's own MTP head)."""

    draft_tokens: PosInt
    acceptance_length: Annotated[float, Field(ge=1.0)]
    """Mean tokens accepted per step per sequence, the verified token included."""

    @model_validator(mode="after")
    def _check(self) -> MtpSpec:
        if self.acceptance_length > self.draft_tokens + 1:
            raise ValueError("acceptance_length cannot exceed draft_tokens + 1")
        return self


class ShapeSpec(_Strict):
    """One way to serve the model: a named shape following one public recipe."""

    name: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=1)]
    url: Annotated[str, Field(pattern=r"^https?://")]
    engine: Literal["vllm", "sglang", "trtllm"] = "vllm"
    mode: Literal["aggregated", "disaggregated"] = "aggregated"
    prefill: PoolSpec | None = None
    """Disaggregated only: the prefill pool."""
    decode: PoolSpec
    """The decode pool (the only pool of an aggregated shape, which also prefills)."""
    kv_cache_dtype: Literal["bf16", "fp8", "fp4"] = "bf16"
    weights: Literal["model", "fp8", "fp4"] = "model"
    """Routed-expert weight format: the model profile's own, or a requantised checkpoint."""
    kv_transfer: Literal["scaleup", "network"] = "scaleup"
    """Disaggregated: KV moves over the scale-up fabric (NVLink domain) or the network."""
    mtp: MtpSpec | None = None
    kv_offload_gb_per_gpu: Annotated[float, Field(ge=0)] = 0.0
    """Host-memory tier for the prefix cache (HiCache / LMCache / Mooncake), per GPU."""
    prefix_caching: bool = True

    @model_validator(mode="after")
    def _check(self) -> ShapeSpec:
        if self.mode == "disaggregated" and self.prefill is None:
            raise ValueError("a disaggregated shape needs a [shape.prefill] pool")
        if self.mode == "aggregated" and self.prefill is not None:
            raise ValueError("an aggregated shape has only a decode pool (it prefills too)")
        return self


class Recipe(_Strict):
    """All shapes of one model on one hardware profile."""

    schema_: Literal["agentperf-recipe/1"] = Field(alias="schema")
    model: Annotated[str, Field(min_length=1)]
    hardware: Annotated[str, Field(min_length=1)]
    shapes: Annotated[tuple[ShapeSpec, ...], Field(alias="shape", min_length=1)]
    path: str = ""

    @model_validator(mode="after")
    def _unique(self) -> Recipe:
        names = [s.name for s in self.shapes]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"shape names must be unique, repeated: {', '.join(sorted(dup))}")
        return self

    def shape(self, name: str) -> ShapeSpec:
        for s in self.shapes:
            if s.name == name:
                return s
        raise ProfileError(
            self.path or None,
            "shape",
            f"no shape '{name}'; this recipe has: {', '.join(s.name for s in self.shapes)}",
        )


def load_recipe_file(path: Path) -> Recipe:
    """Load and validate one recipe file; errors name the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ProfileError(path, None, f"cannot read: {e.strerror or e}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ProfileError(path, None, f"not valid TOML: {e}") from e
    data["path"] = str(path)
    try:
        return Recipe.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise ProfileError(path, field, str(first.get("msg", "invalid value"))) from e


def recipe_path(model: str, hardware: str) -> Path | None:
    for d in profile_dirs():
        f = d / "recipes" / model / f"{hardware}.toml"
        if f.is_file():
            return f
    return None


def load_recipe(model: str, hardware: str) -> Recipe:
    """The recipe for a model on a hardware profile (names as in profiles/models, /hardware)."""
    f = recipe_path(model, hardware)
    if f is None:
        known = ", ".join(f"{m}@{h}" for m, h in list_recipes()) or "none"
        raise ProfileError(
            None,
            "recipe",
            f"no recipe for {model} on {hardware} (looked for "
            f"recipes/{model}/{hardware}.toml under the profile folders); known: {known}",
        )
    rec = load_recipe_file(f)
    if rec.model != model or rec.hardware != hardware:
        raise ProfileError(
            f, "model", f"the file is named for {model} on {hardware} but says {rec.model} on {rec.hardware}"
        )
    return rec


def list_recipes() -> list[tuple[str, str]]:
    """(model, hardware) of every recipe file on the profile search path."""
    out: set[tuple[str, str]] = set()
    for d in profile_dirs():
        for f in (d / "recipes").glob("*/*.toml"):
            out.add((f.parent.name, f.stem))
    return sorted(out)
