"""The endpoint check, the exact-length probe, the server-metrics scraper and the simulator's
metric names, all against real servers."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from realservers_streams import prompt_text
from realservers_targets import Target

from agentperf_tui.core.client.probe import check_endpoint, probe_exact_length
from agentperf_tui.core.client.request import CHAT_PATH, chat_body
from agentperf_tui.core.client.sse import parse_stream
from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.simulator.embedded import EmbeddedSimulator
from agentperf_tui.core.telemetry.server_metrics import ServerMetricsScraper

pytestmark = pytest.mark.realserver


async def test_endpoint_check_finds_the_model_and_its_context(real_server: Target) -> None:
    check = await check_endpoint(real_server.base_url, real_server.model)
    assert check.ok, check.error
    assert check.model_info is not None
    assert check.model_info.max_model_len is not None and check.model_info.max_model_len > 0
    if real_server.kind == "vllm":
        assert check.model_info.max_model_len == 8192
        assert check.model_info.context_source == "max_model_len"
    wrong = await check_endpoint(real_server.base_url, "no-such-model")
    assert not wrong.ok
    assert wrong.error is not None and "tiny" in wrong.error


async def test_exact_length_probe_verdicts(real_server: Target) -> None:
    """vLLM honours both fields; llama.cpp honours ignore_eos and silently ignores min_tokens.
    The served model ends early on its own, so every verdict is a measured one."""
    async with StreamClient(real_server.base_url, read_timeout=60) as client:
        probe = await probe_exact_length(client, real_server.model, tokens=48)
    expect = real_server.expect
    assert probe.natural_tokens is not None and probe.natural_tokens < 48, probe.detail
    assert probe.ignore_eos == ("honoured" if expect.honours_ignore_eos else "ignored"), probe.detail
    assert probe.min_tokens == ("honoured" if expect.honours_min_tokens else "ignored"), probe.detail
    assert probe.comparable, probe.detail
    assert probe.exact_tokens == 48
    assert probe.usage_reported
    want = {
        name
        for name, ok in (("ignore_eos", expect.honours_ignore_eos), ("min_tokens", expect.honours_min_tokens))
        if ok
    }
    assert set(probe.exact_fields) == want, probe.detail


async def _load(target: Target, n: int, tokens: int) -> tuple[int, int]:
    """n concurrent exact-length requests; returns (sum of usage completion tokens, sum of prompt tokens)."""
    async with StreamClient(target.base_url, read_timeout=120) as client:
        loop = asyncio.get_running_loop()

        def clock() -> float:
            return loop.time()

        bodies = [
            chat_body(
                target.model, [{"role": "user", "content": prompt_text(60, salt=f"m{i}")}], max_tokens=tokens
            )
            for i in range(n)
        ]
        raws = await asyncio.gather(*(client.stream(CHAT_PATH, b, clock(), clock) for b in bodies))
    parsed = [parse_stream(r) for r in raws]
    assert all(p.ok for p in parsed), [p.error for p in parsed if not p.ok]
    return sum(p.output_tokens or 0 for p in parsed), sum(p.prompt_tokens or 0 for p in parsed)


def test_scraper_reads_the_real_metrics(real_server: Target) -> None:
    """The scraper recognises the server and its token counters move by exactly what the
    requests' usage says (a fixed clock makes the rate an exact count)."""
    now = [0.0]
    scraper = ServerMetricsScraper(real_server.base_url + "/v1", clock=lambda: now[0], rate_window_s=60)
    scraper.scrape_once()
    first = scraper.view()
    assert first.note is None, first.note
    name = "vllm" if real_server.kind == "vllm" else "llama.cpp"
    assert first.source.startswith(name), first.source
    gen, prompt = asyncio.run(_load(real_server, 3, 24))
    now[0] = 10.0
    scraper.scrape_once()
    view = scraper.view()
    scraper.stop()
    assert view.note is None, view.note
    assert view.values["gen_tok_s"] * 10.0 == pytest.approx(gen), view.values
    assert view.values["prompt_tok_s"] > 0, view.values
    assert view.values["running"] == 0
    assert view.values["waiting"] == 0
    if real_server.kind == "vllm":
        assert view.values["prompt_tok_s"] * 10.0 == pytest.approx(prompt), view.values
        assert 0.0 <= view.values["kv_cache_usage"] <= 1.0
        assert 0.0 <= view.values["prefix_hit_rate"] <= 1.0


def _families(text: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Metric family name -> (type, label names), counters named without `_total`."""
    out: dict[str, tuple[str, frozenset[str]]] = {}
    for fam in text_string_to_metric_families(text):
        labels: set[str] = set()
        for s in fam.samples:
            labels |= set(s.labels) - {"le", "quantile"}
        out[fam.name] = (fam.type, frozenset(labels))
    return out


LEGACY_SIM_NAMES = {"vllm:gpu_cache_usage_perc"}
"""Older vLLM names the simulator also serves so that scrapers written for older vLLM work."""


@pytest.mark.parametrize("real_server", ["vllm"], indirect=True)
def test_simulator_metric_names_match_real_vllm(real_server: Target) -> None:
    real = _families(httpx.get(real_server.metrics_url, timeout=10).text)
    with EmbeddedSimulator() as sim:
        simulated = _families(httpx.get(sim.base_url + "/metrics", timeout=10).text)
    sim_vllm = {k: v for k, v in simulated.items() if k.startswith("vllm:")}
    assert sim_vllm, "the simulator serves no vllm: metrics"
    unknown = set(sim_vllm) - set(real) - LEGACY_SIM_NAMES
    assert not unknown, f"simulator metrics that real vLLM does not have: {sorted(unknown)}"
    for name in set(sim_vllm) & set(real):
        sim_type, sim_labels = sim_vllm[name]
        real_type, real_labels = real[name]
        assert sim_type == real_type, f"{name}: simulator {sim_type}, vLLM {real_type}"
        assert sim_labels <= real_labels, (
            f"{name}: simulator labels {sorted(sim_labels)}, vLLM {sorted(real_labels)}"
        )
    for needed in (
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:prefix_cache_hits",
        "vllm:prefix_cache_queries",
        "vllm:prompt_tokens",
        "vllm:generation_tokens",
        "vllm:time_to_first_token_seconds",
    ):
        assert needed in real, f"real vLLM lacks {needed}"
        assert needed in sim_vllm, f"the simulator lacks {needed}"
