"""The rack-scale cost model's mechanisms, each checked on its own (costmodel.py, steady.py)."""

from __future__ import annotations

import pytest

from agentperf_tui.core.simulator.costmodel import GIB, CostParams, PoolCost, ep_latency_factor, fabric_for
from agentperf_tui.core.simulator.profiles import load_hardware, load_model
from agentperf_tui.core.simulator.recipes import PoolSpec, ShapeSpec, load_recipe
from agentperf_tui.core.simulator.shapes import Shape, candidate_shapes
from agentperf_tui.core.simulator.steady import pool_rates, value_at

P = CostParams()


def _spec(mtp: bool, **pool: object) -> ShapeSpec:
    data: dict[str, object] = {
        "name": "s", "source": "test", "url": "https://example.org/recipe", "kv_cache_dtype": "fp8",
        "decode": {"gpus": [8], "attention": "dp", "experts": "ep", **pool},
    }
    if mtp:
        data["mtp"] = {"draft_tokens": 3, "acceptance_length": 2.49}
    return ShapeSpec.model_validate(data)


def _cost(spec: ShapeSpec, hardware: str = "b200", model: str = "deepseek-r1", gpus: int = 8) -> PoolCost:
    return PoolCost(load_hardware(hardware), load_model(model), spec, spec.decode, gpus, P)


def test_mtp_verification_reads_each_sequence_kv_once() -> None:
    plain, mtp = _cost(_spec(False)), _cost(_spec(True))
    ctx = 64 * 32_000.0  # 64 sequences of 32K tokens each: the KV read dominates the bytes
    kv_plain = plain.step(64, ctx, 0.0).memory_s - plain.step(64, 0.0, 0.0).memory_s
    kv_mtp = mtp.step(64, ctx, 0.0).memory_s - mtp.step(64, 0.0, 0.0).memory_s
    assert kv_mtp == pytest.approx(kv_plain, rel=1e-9)  # four query tokens, one pass over the cache
    # ...while the attention FLOPs do grow with the query tokens
    assert mtp.step(64, ctx, 0.0).compute_s > 3 * plain.step(64, ctx, 0.0).compute_s * 0.9


def test_mla_decodes_in_the_absorbed_form() -> None:
    m = load_model("deepseek-r1")
    assert m.attn_flops_per_ctx_token_decode == 61 * 128 * (576 + 512) * 2
    c = _cost(_spec(False))
    one = c.step(1, 10_000.0, 0.0).compute_s - c.step(1, 0.0, 0.0).compute_s
    assert one == pytest.approx(m.attn_flops_per_ctx_token_decode * 10_000 / c.attn_rate, rel=1e-9)


def test_hbm_counts_in_binary_units_and_a_pool_may_set_its_own_share() -> None:
    base = _cost(_spec(False))
    hw = load_hardware("b200")
    expected = (
        hw.hbm_gb * GIB * P.gpu_memory_utilization - base.activation_bytes - base.weights_per_gpu
        - base.swa_seq_bytes * 256
    )
    assert base.free_bytes_per_gpu == pytest.approx(expected)
    roomier = _cost(_spec(False, gpu_memory_utilization=0.95))
    assert roomier.kv_tokens_per_rank > base.kv_tokens_per_rank
    # a larger chunked-prefill budget reserves activation memory and leaves less for the KV cache
    chunky = _cost(_spec(False, max_batched_tokens=32768))
    assert chunky.kv_tokens_per_rank < base.kv_tokens_per_rank


def test_dispatch_latency_grows_with_ep_width_over_rdma_only() -> None:
    assert ep_latency_factor(8, P) == pytest.approx(1.0)
    assert ep_latency_factor(32, P) == pytest.approx(1.0 + 2 * P.alltoall_peer_slope)
    hw = load_hardware("b200")
    assert fabric_for(hw, 8, P).name == "nvlink" and fabric_for(hw, 16, P).name == "network"
    inside = _cost(_spec(False), gpus=8)
    wide = PoolSpec(gpus=(16,), attention="dp")
    across = PoolCost(hw, load_model("deepseek-r1"), _spec(False), wide, 16, P)
    assert inside.ep_latency == 1.0 and across.ep_latency == pytest.approx(ep_latency_factor(16, P))


def test_an_idle_prefill_node_costs_throughput_per_gpu_at_the_low_latency_end() -> None:
    rec = load_recipe("deepseek-r1", "b200")
    shape = next(s for s in candidate_shapes(rec, 64, shape_names=["disagg-tp8-fp8-mtp"]))
    rates = pool_rates(shape, 8192, 1024)
    fast = rates.decode[0][0]  # the speed of one sequence per decode node
    one = value_at(rates.per_gpu(1, 1), fast)
    seven = value_at(rates.per_gpu(1, 7), fast)
    assert one is not None and seven is not None
    # with one sequence per node, seven decode nodes share the prefill node's 8 GPUs instead of
    # one: per GPU, 7 / (8 + 56) against 1 / (8 + 8)
    assert seven / one == pytest.approx((7 / 64) / (1 / 16))
    # and the prefill pool caps the request rate when decode outgrows it
    capped = rates.per_gpu(1, 64)
    assert capped[-1][1] <= rates.prefill_tokens_s * (1024 / 8192) * (9216 / 1024) / (8 + 64 * 8) * 1.0001


def test_a_shape_whose_weights_do_not_fit_is_not_a_candidate() -> None:
    # DeepSeek-V4-Pro's FP4 weights need ~230 GB per GPU on a DEP4 prefill worker: GB300 holds
    # them, GB200 does not, so no GB200 candidate prefills on four GPUs
    gb300 = candidate_shapes(load_recipe("deepseek-v4-pro", "gb300-nvl72"), 72)
    gb200 = candidate_shapes(load_recipe("deepseek-v4-pro", "gb200-nvl72"), 72)
    assert any(s.disaggregated and s.prefill_gpus == 4 for s in gb300)
    assert all(s.prefill_gpus != 4 for s in gb200 if s.disaggregated)
    assert all(isinstance(s, Shape) for s in gb300 + gb200)
