"""Single-request figures of the engine model against published measurements.

Public reference points (the ranges below are deliberately wide: the model is a roofline, the
references differ in engine, quantisation and settings):

* Llama 3.3 70B Instruct, Oracle OCI Generative AI dedicated-cluster benchmark
  (https://docs.oracle.com/en-us/iaas/Content/generative-ai/benchmark-meta-llama-3-3-70b-instruct.htm):
  ~480-token prompts, 300-token replies; at concurrency 1: TTFT 0.05 s, 58.6 tok/s per request;
  at 32: 0.16 s, 44.3 tok/s; at 64: 0.40 s, 35.7 tok/s. Modelled here on 2 x H100 SXM (TP2).
* gpt-oss-120b (MXFP4) on 1 x H100 SXM, MillstoneAI inference benchmark
  (https://www.millstoneai.com/inference-benchmark/gpt-oss-120b-mxfp4): peak 511 tok/s in total
  at up to 4 concurrent 1K-context requests, i.e. at least ~128 tok/s per request at 4 and more
  for one request alone.
* NVIDIA H100 SXM decode is memory bound: a 70B FP8 model cannot beat
  HBM bandwidth / weight bytes (3.35 TB/s x 2 GPUs / 70.6 GB = 95 tok/s) on two GPUs.
"""

from __future__ import annotations

import math

import pytest

from agentperf_tui.core.simulator.engine import Engine
from agentperf_tui.core.simulator.profiles import load_deployment


def _measure(hw: str, model: str, gpus: int, *, prompt: int, out: int, conc: int) -> tuple[float, float]:
    """(mean TTFT, mean output speed) of `conc` identical requests sent together to an idle engine."""
    e = Engine(load_deployment(hw, model, gpus_per_replica=gpus))
    reqs = [e.new_request(prompt, [10**9 * (k + 1) + i for i in range(prompt // 16)], 0.0, max_tokens=out,
                          ignore_eos=True) for k in range(conc)]
    for r in reqs:
        e.submit(r, 0.0)
    e.run_until(math.inf)
    ttft = sum(r.t_first - r.t_arrival for r in reqs) / conc
    speed = sum((r.out - 1) / (r.t_last - r.t_first) for r in reqs) / conc
    return ttft, speed


def test_llama_70b_on_two_h100_matches_published_single_stream_figures() -> None:
    ttft, speed = _measure("h100-sxm", "llama-3.3-70b", 2, prompt=480, out=300, conc=1)
    assert 0.02 <= ttft <= 0.25
    assert 35.0 <= speed <= 95.0
    assert speed == pytest.approx(58.6, rel=0.3)


def test_llama_70b_slows_with_concurrency_like_the_published_curve() -> None:
    _t1, s1 = _measure("h100-sxm", "llama-3.3-70b", 2, prompt=480, out=300, conc=1)
    t32, s32 = _measure("h100-sxm", "llama-3.3-70b", 2, prompt=480, out=300, conc=32)
    t64, s64 = _measure("h100-sxm", "llama-3.3-70b", 2, prompt=480, out=300, conc=64)
    assert s1 > s32 > s64
    assert 25.0 <= s32 <= 60.0 and 18.0 <= s64 <= 50.0
    assert t32 < t64 <= 2.0


def test_gpt_oss_120b_on_one_h100_is_in_the_published_range() -> None:
    ttft1, s1 = _measure("h100-sxm", "gpt-oss-120b", 1, prompt=1000, out=500, conc=1)
    _t4, s4 = _measure("h100-sxm", "gpt-oss-120b", 1, prompt=1000, out=500, conc=4)
    assert 130.0 <= s1 <= 400.0
    assert ttft1 <= 0.2
    assert 300.0 <= 4 * s4 <= 900.0  # total at 4 streams around the published 511 tok/s
    assert s4 < s1  # more experts touched per step as the batch grows
