"""A concrete deployment shape: one recipe shape with its pool sizes and instance counts chosen.

`Shape` is what the rack-scale engine (`pool_engine.py`) runs and what the planner compares:
for an aggregated shape, `decode_instances` engines of `decode_gpus` GPUs; for a
disaggregated one, `prefill_instances` x `prefill_gpus` GPUs that prefill and hand the KV
cache over to `decode_instances` x `decode_gpus` GPUs that decode. `candidate_shapes` lists
every way a recipe fills a GPU budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentperf_tui.core.simulator.costmodel import CostParams, PoolCost, load_cost_params
from agentperf_tui.core.simulator.profiles import (
    HardwareProfile,
    ModelProfile,
    ProfileError,
    load_hardware,
    load_model,
)
from agentperf_tui.core.simulator.recipes import Recipe, ShapeSpec, load_recipe

BLOCK_TOKENS = 16
"""Prefix-cache identity granularity the load generator hashes prompts at."""


@dataclass(frozen=True)
class Shape:
    hardware: HardwareProfile
    model: ModelProfile
    spec: ShapeSpec
    decode_gpus: int
    decode_instances: int
    prefill_gpus: int = 0
    prefill_instances: int = 0
    params: CostParams = field(default_factory=CostParams)

    @property
    def disaggregated(self) -> bool:
        return self.spec.mode == "disaggregated"

    @property
    def gpu_count(self) -> int:
        return self.decode_gpus * self.decode_instances + self.prefill_gpus * self.prefill_instances

    @property
    def block_size(self) -> int:
        return BLOCK_TOKENS

    @property
    def decode_cost(self) -> PoolCost:
        return PoolCost(self.hardware, self.model, self.spec, self.spec.decode, self.decode_gpus, self.params)

    @property
    def prefill_cost(self) -> PoolCost | None:
        if self.spec.prefill is None:
            return None
        return PoolCost(
            self.hardware, self.model, self.spec, self.spec.prefill, self.prefill_gpus, self.params
        )

    def _pool_text(self, gpus: int, count: int, cost: PoolCost) -> str:
        pool = cost.pool
        if cost.moe:
            par = f"{'DEP' if pool.attention == 'dp' else 'TP'}{gpus}"
            if pool.experts == "tp" and pool.attention == "tp":
                par = f"TP{gpus}"
            elif pool.attention == "tp" and pool.experts == "ep" and gpus > 1:
                par = f"TEP{gpus}"
        else:
            par = f"TP{gpus}"
        return f"{count} x {par}"

    @property
    def summary(self) -> str:
        """Short text: '2 x DEP8 prefill + 1 x DEP16 decode, MTP 3, FP8 KV'."""
        dec = self._pool_text(self.decode_gpus, self.decode_instances, self.decode_cost)
        if self.disaggregated:
            pc = self.prefill_cost
            assert pc is not None
            text = f"{self._pool_text(self.prefill_gpus, self.prefill_instances, pc)} prefill + {dec} decode"
        else:
            text = f"{dec} aggregated"
        mtp = self.spec.mtp
        if mtp:
            text += f", MTP {mtp.draft_tokens} (accepts {mtp.acceptance_length:g})"
        text += f", {self.spec.kv_cache_dtype.upper()} KV"
        return text

    @property
    def label(self) -> str:
        return (
            f"{self.model.name} on {self.gpu_count} {self.hardware.name}: {self.summary} "
            f"[{self.spec.name}] (simulated)"
        )

    def describe(self) -> str:
        d = self.decode_cost
        text = (
            f"{self.label}: decode ranks hold up to {self.spec.decode.max_batch_per_rank} sequences and "
            f"{d.kv_tokens_per_rank:,} KV tokens each; weights {d.weights_per_gpu / 1e9:.0f} GB "
            "per decode GPU; "
            f"{d.fabric.name} between its GPUs"
        )
        return text + f"; recipe: {self.spec.source} ({self.spec.url})"


def candidate_shapes(
    recipe: Recipe,
    gpus: int,
    *,
    hardware: HardwareProfile | None = None,
    model: ModelProfile | None = None,
    params: CostParams | None = None,
    shape_names: list[str] | None = None,
) -> list[Shape]:
    """Every shape of the recipe that fits in `gpus` GPUs (instances of one size per pool,
    as many decode instances as asked and the rest prefill), skipping pools whose weights
    leave too little room for the KV cache."""
    hw = hardware or load_hardware(recipe.hardware)
    m = model or load_model(recipe.model)
    p = params or load_cost_params()
    out: list[Shape] = []
    for spec in recipe.shapes:
        if shape_names and spec.name not in shape_names:
            continue
        for dg in spec.decode.gpus:
            if dg > gpus or not PoolCost(hw, m, spec, spec.decode, dg, p).fits:
                continue
            if spec.prefill is None:
                out.append(Shape(hw, m, spec, dg, gpus // dg, params=p))
                continue
            for pg in spec.prefill.gpus:
                if not PoolCost(hw, m, spec, spec.prefill, pg, p).fits:
                    continue
                for d in range(1, gpus // dg + 1):
                    np_ = (gpus - d * dg) // pg
                    if np_ >= 1:
                        out.append(Shape(hw, m, spec, dg, d, pg, np_, params=p))
    return out


def shape_from(model: str, hardware: str, shape_name: str, gpus: int) -> Shape:
    """The best-filling instance counts of one named shape for a GPU budget (the largest
    decode pool that leaves at least one prefill instance)."""
    rec = load_recipe(model, hardware)
    rec.shape(shape_name)
    shapes = candidate_shapes(rec, gpus, shape_names=[shape_name])
    if not shapes:
        raise ProfileError(rec.path, "shape", f"shape '{shape_name}' does not fit in {gpus} {hardware} GPUs")
    return max(shapes, key=lambda s: (s.gpu_count, s.decode_gpus * s.decode_instances))
