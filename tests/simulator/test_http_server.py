"""The simulator over real HTTP on 127.0.0.1, with a real client (httpx)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agentperf_tui.core.simulator.embedded import EmbeddedSimulator
from agentperf_tui.core.telemetry.base import TelemetrySource


@pytest.fixture(scope="module")
def sim() -> Iterator[EmbeddedSimulator]:
    s = EmbeddedSimulator(hardware="h100-sxm", model="llama-3.1-8b", seed=11)
    s.start()
    yield s
    s.close()


@pytest.fixture()
def client(sim: EmbeddedSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=30.0) as c:
        yield c


def _chat(sim: EmbeddedSimulator, messages: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"model": sim.model_name, "messages": messages, **kw}


def _stream(client: httpx.Client, path: str, body: dict[str, Any]) -> tuple[list[Any], list[float]]:
    """Events (parsed JSON, or the string '[DONE]') and their arrival times."""
    events: list[Any] = []
    times: list[float] = []
    with client.stream("POST", path, json=body) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-agentperf-simulated"] == "true"
        for line in r.iter_lines():
            if not line:
                continue
            assert line.startswith("data: ")
            payload = line[6:]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
            times.append(time.perf_counter())
    return events, times


def _metrics(client: httpx.Client) -> dict[str, float]:
    text = client.get("/metrics").text
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name.endswith("_bucket"):
                continue
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def test_models_lists_the_simulated_model_with_its_context_limit(sim: EmbeddedSimulator,
                                                                  client: httpx.Client) -> None:
    r = client.get("/v1/models")
    assert r.headers["x-agentperf-simulated"] == "true"
    (m,) = r.json()["data"]
    assert m["id"] == sim.model_name and m["id"].startswith("sim-")
    assert m["max_model_len"] == 131072 and m["simulated"] is True


def test_streaming_chat_has_vllm_shape_and_exact_length(sim: EmbeddedSimulator, client: httpx.Client) -> None:
    body = _chat(sim, [{"role": "user", "content": "stream-shape " * 100}], max_tokens=40, ignore_eos=True,
                 stream=True, stream_options={"include_usage": True})
    events, times = _stream(client, "/v1/chat/completions", body)
    assert events[-1] == "[DONE]"
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["object"] == "chat.completion.chunk"
    chunks = events[:-2]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"]["content"] for c in chunks[1:]]
    assert len(deltas) == 40 and all(deltas)
    assert [c["choices"][0]["finish_reason"] for c in chunks[1:]] == [None] * 39 + ["length"]
    u = usage_chunk["usage"]
    assert u["completion_tokens"] == 40 and u["total_tokens"] == u["prompt_tokens"] + 40
    assert u["prompt_tokens_details"]["cached_tokens"] == 0
    # tokens arrive spread over the modelled decode, not in one burst
    assert times[-3] - times[1] > 0.1


def test_cached_tokens_rise_as_a_conversation_grows(sim: EmbeddedSimulator, client: httpx.Client) -> None:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": f"marker-{time.time_ns()} " + "ctx " * 600}]
    cached, prompts = [], []
    for turn in range(3):
        msgs.append({"role": "user", "content": f"turn {turn} " + "more " * 200})
        events, _ = _stream(client, "/v1/chat/completions",
                            _chat(sim, msgs, max_tokens=5, ignore_eos=True, stream=True,
                                  stream_options={"include_usage": True}))
        u = events[-2]["usage"]
        cached.append(u["prompt_tokens_details"]["cached_tokens"])
        prompts.append(u["prompt_tokens"])
        msgs.append({"role": "assistant", "content": "recorded reply " * 20})
    assert cached[0] == 0 and 0 < cached[1] < cached[2]
    assert cached[1] <= prompts[0] and cached[2] <= prompts[1]
    assert all(c % 16 == 0 for c in cached)


def test_ignore_eos_is_honoured_and_without_it_replies_may_stop_early(sim: EmbeddedSimulator,
                                                                       client: httpx.Client) -> None:
    msgs = [{"role": "user", "content": "eos probe"}]
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("/v1/chat/completions", _chat(sim, msgs, max_tokens=300, ignore_eos=True)),
        ("/v1/completions", {"prompt": "x", "max_tokens": 300, "min_tokens": 250}),
        *(("/v1/completions", {"prompt": "eos probe", "max_tokens": 300}) for _ in range(8)),
    ]
    with ThreadPoolExecutor(len(bodies)) as pool:
        replies = list(pool.map(lambda pb: client.post(pb[0], json=pb[1]).json(), bodies))
    exact, floor, natural = replies[0], replies[1], replies[2:]
    assert exact["usage"]["completion_tokens"] == 300 and exact["choices"][0]["finish_reason"] == "length"
    assert floor["usage"]["completion_tokens"] >= 250
    lengths = [n["usage"]["completion_tokens"] for n in natural]
    assert any(n < 300 for n in lengths), "without ignore_eos the modelled EOS ends some replies early"
    for n in natural:
        stopped = n["usage"]["completion_tokens"] < 300
        assert n["choices"][0]["finish_reason"] == ("stop" if stopped else "length")


def test_completions_stream_and_token_id_prompts(sim: EmbeddedSimulator, client: httpx.Client) -> None:
    events, _ = _stream(client, "/v1/completions", {"prompt": list(range(100)), "max_tokens": 7,
                                                     "ignore_eos": True, "stream": True,
                                                     "stream_options": {"include_usage": True}})
    texts = [e["choices"][0]["text"] for e in events[:-2]]
    assert len(texts) == 7 and events[-2]["usage"]["prompt_tokens"] == 100


def test_tokenize_counts_what_usage_counts(sim: EmbeddedSimulator, client: httpx.Client) -> None:
    msgs = [{"role": "system", "content": "sys"}, {"role": "user", "content": "héllo wörld " * 37}]
    tok = client.post("/tokenize", json={"model": sim.model_name, "messages": msgs}).json()
    done = client.post("/v1/chat/completions", json=_chat(sim, msgs, max_tokens=1, ignore_eos=True)).json()
    assert tok["count"] == done["usage"]["prompt_tokens"] == len(tok["tokens"])
    assert tok["max_model_len"] == 131072
    again = client.post("/tokenize", json={"messages": msgs}).json()
    assert again["tokens"] == tok["tokens"]


def test_metrics_parse_with_vllm_names_and_move_with_traffic(sim: EmbeddedSimulator,
                                                              client: httpx.Client) -> None:
    before = _metrics(client)
    for name in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                 "vllm:gpu_cache_usage_perc", "vllm:prefix_cache_queries_total",
                 "vllm:prefix_cache_hits_total",
                 "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:num_preemptions_total",
                 "vllm:time_to_first_token_seconds_count", "agentperf_sim:info"):
        assert name in before, name
    msgs = [{"role": "user", "content": f"metrics-{time.time_ns()} " + "m " * 400}]
    for _ in range(2):
        client.post("/v1/chat/completions", json=_chat(sim, msgs, max_tokens=10, ignore_eos=True))
    after = _metrics(client)
    assert after["vllm:generation_tokens_total"] - before["vllm:generation_tokens_total"] == 20
    assert after["vllm:prefix_cache_hits_total"] > before["vllm:prefix_cache_hits_total"]
    ttft_count = "vllm:time_to_first_token_seconds_count"
    assert after[ttft_count] - before[ttft_count] == 2
    assert after["agentperf_sim:energy_joules_total"] > before["agentperf_sim:energy_joules_total"]


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}, 404, "does not exist"),
    ({"messages": []}, 400, "messages"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, 400, "max_tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}, 400, "max_tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 200_000}, 400, "maximum context length"),
    ({"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": True}}, 400,
     "stream"),
])
def test_bad_requests_get_openai_style_errors(client: httpx.Client, body: dict[str, Any], status: int,
                                              needle: str) -> None:
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == status
    err = r.json()["error"]
    assert needle in err["message"] and err["code"] == status


def test_malformed_json_is_a_400(client: httpx.Client) -> None:
    r = client.post("/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]


def test_a_client_that_goes_away_frees_its_request(sim: EmbeddedSimulator, client: httpx.Client) -> None:
    body = _chat(sim, [{"role": "user", "content": "abandon"}], max_tokens=5000, ignore_eos=True, stream=True)
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        for _line in r.iter_lines():
            break
    deadline = time.time() + 5
    while time.time() < deadline:
        if _metrics(client)["vllm:num_requests_running"] == 0:
            break
        time.sleep(0.05)
    m = _metrics(client)
    assert m["vllm:num_requests_running"] == 0
    text = client.get("/metrics").text
    assert 'finished_reason="abort"' in text


def test_power_source_is_a_simulated_telemetry_source(sim: EmbeddedSimulator) -> None:
    src = sim.power_source()
    assert isinstance(src, TelemetrySource) and src.simulated
    st = src.open()
    assert st.available and st.simulated and len(st.gpus) == sim.gpu_count
    a = src.sample(1.0)
    time.sleep(0.2)
    b = src.sample(1.2)
    assert [s.gpu for s in a] == list(st.gpus)
    hw = sim.deployment.hardware
    for s0, s1 in zip(a, b, strict=True):
        assert s1.energy_j is not None and s0.energy_j is not None and s1.energy_j > s0.energy_j
        assert s1.power_w is not None and hw.idle_w <= s1.power_w <= hw.tdp_w
        assert s1.power_limit_w == hw.tdp_w
    src.close()


def test_two_simulators_run_side_by_side() -> None:
    with (EmbeddedSimulator(model="llama-3.1-8b") as a,
          EmbeddedSimulator(model="gpt-oss-120b", hardware="b200") as b):
        assert a.base_url != b.base_url
        ids = {httpx.get(s.base_url + "/v1/models").json()["data"][0]["id"] for s in (a, b)}
        assert ids == {"sim-llama-3.1-8b", "sim-gpt-oss-120b"}
