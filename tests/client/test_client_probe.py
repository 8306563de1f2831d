"""list_models, check_endpoint and probe_exact_length against real loopback servers."""

from __future__ import annotations

import pytest

from agentperf_tui.core.client.errors import EndpointError
from agentperf_tui.core.client.probe import check_endpoint, list_models, probe_exact_length
from agentperf_tui.core.client.stream import Backend, StreamClient

from .conftest import Serve
from .fake_openai import Behaviour

LLAMA_MODELS = [
    {
        "id": "tiny.gguf",
        "object": "model",
        "owned_by": "llamacpp",
        "meta": {"n_ctx": 1024, "n_ctx_train": 4096, "n_vocab": 2048},
    }
]
OLD_LLAMA_MODELS = [
    {"id": "tiny.gguf", "object": "model", "owned_by": "llamacpp", "meta": {"n_ctx_train": 4096}}
]


async def test_list_models_reads_each_servers_context_field(serve: Serve) -> None:
    vllm = await serve(
        Behaviour(
            models=[{"id": "a", "owned_by": "vllm", "max_model_len": 8192}, {"id": "b", "owned_by": "vllm"}]
        )
    )
    llama = await serve(Behaviour(models=LLAMA_MODELS))
    old_llama = await serve(Behaviour(models=OLD_LLAMA_MODELS))
    async with StreamClient(vllm) as c:
        a, b = await list_models(c)
    assert (a.id, a.max_model_len, a.context_source, a.owned_by) == ("a", 8192, "max_model_len", "vllm")
    assert (b.id, b.max_model_len, b.context_source) == ("b", None, None)
    async with StreamClient(llama) as c:
        (m,) = await list_models(c)
    assert (m.max_model_len, m.context_source) == (1024, "meta.n_ctx")
    async with StreamClient(old_llama) as c:
        (m,) = await list_models(c)
    assert (m.max_model_len, m.context_source) == (2048, "/props n_ctx")


async def test_list_models_rejects_a_body_that_is_no_model_list(serve: Serve) -> None:
    url = await serve(Behaviour(models=[{"name": "x"}]))
    async with StreamClient(url) as c:
        with pytest.raises(EndpointError, match="model entry without a string 'id'"):
            await list_models(c)


async def test_check_endpoint_ok(serve: Serve) -> None:
    url = await serve(Behaviour())
    check = await check_endpoint(url + "/v1", "m")
    assert check.ok and check.error is None
    assert check.base_url == url
    assert check.model_info is not None and check.model_info.max_model_len == 4096


async def test_check_endpoint_model_not_served_lists_what_is(serve: Serve) -> None:
    url = await serve(Behaviour(models=[{"id": "Qwen3-8B"}, {"id": "other"}]))
    check = await check_endpoint(url, "qwen3-8b")
    assert not check.ok
    assert check.error == (
        f"model 'qwen3-8b' is not served at {url}; served: Qwen3-8B, other (did you mean 'Qwen3-8B'?)"
    )
    assert [m.id for m in check.served] == ["Qwen3-8B", "other"]
    empty = await serve(Behaviour(models=[]))
    check = await check_endpoint(empty, "m")
    assert check.error is not None and check.error.endswith("the server lists no models")


async def test_check_endpoint_unreachable(dead_url: str) -> None:
    check = await check_endpoint(dead_url, "m", timeout=2)
    assert not check.ok and check.error is not None
    assert check.error.startswith(f"cannot reach {dead_url}")
    assert "is the server running" in check.error


async def test_check_endpoint_auth_failure(serve: Serve) -> None:
    url = await serve(Behaviour(api_key="sk-right"))
    check = await check_endpoint(url, "m", api_key="sk-wrong")
    assert not check.ok and check.error is not None
    assert check.error.startswith("authentication failed (HTTP 401)")
    assert "invalid api key" in check.error
    assert (await check_endpoint(url, "m", api_key="sk-right")).ok


async def test_check_endpoint_wrong_root_and_bad_url(serve: Serve) -> None:
    url = await serve(Behaviour())
    check = await check_endpoint(url + "/api", "m")
    assert check.error is not None and "not found (HTTP 404)" in check.error
    check = await check_endpoint("localhost:8000", "m")
    assert check.error is not None and "must start with http://" in check.error


async def test_probe_server_honouring_both(serve: Serve, backend: Backend) -> None:
    b = Behaviour(natural_tokens=5)
    url = await serve(b)
    async with StreamClient(url, backend=backend) as c:
        probe = await probe_exact_length(c, "m", tokens=16)
    assert (probe.ignore_eos, probe.min_tokens) == ("honoured", "honoured")
    assert probe.comparable and probe.exact_fields == ("ignore_eos", "min_tokens")
    assert (probe.natural_tokens, probe.exact_tokens) == (5, 16)
    assert probe.usage_reported
    last = b.requests[-1]
    assert last["ignore_eos"] is True and last["min_tokens"] == 16 and last["max_tokens"] == 16


async def test_probe_llamacpp_like_server_ignores_min_tokens(serve: Serve) -> None:
    url = await serve(Behaviour(natural_tokens=3, honour_min_tokens=False))
    async with StreamClient(url) as c:
        probe = await probe_exact_length(c, "m", tokens=12)
    assert (probe.ignore_eos, probe.min_tokens) == ("honoured", "ignored")
    assert probe.exact_fields == ("ignore_eos",)
    assert probe.comparable and probe.exact_tokens == 12
    assert "min_tokens alone: 3 tokens -> ignored" in probe.detail


async def test_probe_server_ignoring_both_is_not_comparable(serve: Serve) -> None:
    url = await serve(Behaviour(natural_tokens=4, honour_min_tokens=False, honour_ignore_eos=False))
    async with StreamClient(url) as c:
        probe = await probe_exact_length(c, "m", tokens=12)
    assert (probe.ignore_eos, probe.min_tokens) == ("ignored", "ignored")
    assert not probe.comparable and probe.exact_fields == () and probe.exact_tokens is None
    assert "the run is not comparable" in probe.detail


async def test_probe_server_rejecting_a_field(serve: Serve) -> None:
    url = await serve(Behaviour(natural_tokens=2, reject_fields=("ignore_eos",)))
    async with StreamClient(url) as c:
        probe = await probe_exact_length(c, "m", tokens=10)
    assert (probe.ignore_eos, probe.min_tokens) == ("rejected", "honoured")
    assert probe.exact_fields == ("min_tokens",) and probe.comparable
    assert "ignore_eos alone: HTTP 422" in probe.detail


async def test_probe_model_that_never_stops_early_is_unverified(serve: Serve) -> None:
    url = await serve(Behaviour(natural_tokens=None, honour_min_tokens=False, honour_ignore_eos=False))
    async with StreamClient(url) as c:
        probe = await probe_exact_length(c, "m", tokens=8)
    assert (probe.ignore_eos, probe.min_tokens) == ("unverified", "unverified")
    assert probe.comparable  # the exact length was achieved; every request's length is checked anyway
    assert "cannot be told apart" in probe.detail


async def test_probe_of_a_broken_server_raises(serve: Serve) -> None:
    url = await serve(Behaviour(fail="http500"))
    async with StreamClient(url) as c:
        with pytest.raises(EndpointError, match="probe request failed: HTTP 500: engine crashed"):
            await probe_exact_length(c, "m")


async def test_probe_model_stopping_at_once(serve: Serve) -> None:
    """vLLM with a model that emits end-of-sequence first: a complete reply without output."""
    url = await serve(Behaviour(natural_tokens=0))
    async with StreamClient(url) as c:
        probe = await probe_exact_length(c, "m", tokens=8)
    assert probe.natural_tokens == 0
    assert (probe.ignore_eos, probe.min_tokens, probe.comparable) == ("honoured", "honoured", True)


async def test_probe_of_an_unreachable_server(dead_url: str) -> None:
    async with StreamClient(dead_url, connect_timeout=2) as c:
        with pytest.raises(EndpointError, match="probe request failed: connect error") as info:
            await probe_exact_length(c, "m")
    assert info.value.kind == "unreachable"
