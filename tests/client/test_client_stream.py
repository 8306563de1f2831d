"""StreamClient + parse_stream against real HTTP servers on 127.0.0.1 (both transports)."""

from __future__ import annotations

import asyncio
import time

import pytest

from agentperf_tui.core.client.errors import EndpointError
from agentperf_tui.core.client.request import CHAT_PATH, COMPLETIONS_PATH, chat_body, completion_body
from agentperf_tui.core.client.result import build_result
from agentperf_tui.core.client.sse import parse_stream
from agentperf_tui.core.client.stream import Backend, StreamClient
from agentperf_tui.core.endpoint import normalise_base_url
from agentperf_tui.core.records import RawExchange

from .conftest import Serve
from .fake_openai import Behaviour

clock = time.perf_counter
MESSAGES = [{"role": "user", "content": "list the files"}]


async def one(client: StreamClient, body: bytes, path: str = CHAT_PATH) -> RawExchange:
    return await client.stream(path, body, clock(), clock)


def assert_times_ordered(raw: RawExchange) -> None:
    assert raw.t_intended <= raw.t_sent
    assert raw.times, "no chunk recorded"
    assert raw.t_sent <= raw.times[0]
    assert all(a <= b for a, b in zip(raw.times, raw.times[1:], strict=False))
    assert raw.times[-1] <= raw.t_end
    assert len(raw.times) == len(raw.chunks)


async def test_vllm_style_chat_stream(serve: Serve, backend: Backend) -> None:
    url = await serve(Behaviour(style="vllm", reasoning_tokens=3, tool_call=True, gap=0.003, ttft=0.05))
    async with StreamClient(url, backend=backend) as client:
        raw = await one(client, chat_body("m", MESSAGES, max_tokens=12))
    assert_times_ordered(raw)
    assert raw.status == 200 and raw.error is None
    p = parse_stream(raw)
    assert p.ok, p.error
    assert p.done and p.finish_reason == "length"
    # the first output is a reasoning delta, after the server's 50 ms wait; the role chunk is no token
    assert p.t_first_token is not None and p.t_last_token is not None
    assert p.t_first_token - raw.t_sent >= 0.045
    assert p.t_last_token - p.t_first_token >= 11 * 0.003 * 0.9
    assert p.output_tokens == 12 and p.client_output_tokens == 12
    assert p.reasoning_tokens == 3
    assert p.prompt_tokens is not None and p.prompt_tokens > 0
    assert p.cached_tokens == 3
    r = build_result(raw, agent_id=4, trajectory_id="t", replay=0, turn=2, requested_output_tokens=12)
    assert r.ok and not r.usage_mismatch and not r.length_mismatch
    assert 0.045 <= r.ttft < 2.0
    assert r.output_speed > 0


async def test_llamacpp_style_completion_usage_in_finish_chunk(serve: Serve, backend: Backend) -> None:
    url = await serve(Behaviour(style="llamacpp", pings=True))
    async with StreamClient(url, backend=backend) as client:
        raw = await one(client, completion_body("m", "def f(x):", max_tokens=9), COMPLETIONS_PATH)
    p = parse_stream(raw)
    assert p.ok, p.error
    assert p.output_tokens == 9 and p.client_output_tokens == 9
    assert p.prompt_tokens == 2 and p.cached_tokens == 3
    assert p.finish_reason == "length"


@pytest.mark.parametrize(
    "shape",
    [{"split_events": True}, {"batch_events": True}, {"crlf": True, "split_events": True}, {"gzip": True}],
)
async def test_event_boundaries_do_not_matter(serve: Serve, backend: Backend, shape: dict[str, bool]) -> None:
    url = await serve(Behaviour(**shape))  # type: ignore[arg-type]
    async with StreamClient(url, backend=backend) as client:
        raw = await one(client, chat_body("m", MESSAGES, max_tokens=7))
    p = parse_stream(raw)
    assert p.ok, p.error
    assert (p.output_tokens, p.client_output_tokens) == (7, 7)
    if shape.get("batch_events"):
        assert p.t_first_token == p.t_last_token
    elif not shape.get("gzip"):  # the compressor may hold events back
        assert len(raw.chunks) > 7
        assert p.t_first_token is not None and p.t_last_token is not None
        assert p.t_first_token < p.t_last_token


async def test_http_500_is_a_failed_request_with_the_message(serve: Serve, backend: Backend) -> None:
    url = await serve(Behaviour(fail="http500"))
    async with StreamClient(url, backend=backend) as client:
        raw = await one(client, chat_body("m", MESSAGES, max_tokens=5))
    assert raw.status == 500 and raw.error is None
    p = parse_stream(raw)
    assert not p.ok and p.http_status == 500
    assert p.error is not None and p.error.startswith("HTTP 500") and "engine crashed" in p.error
    r = build_result(raw, agent_id=0, trajectory_id="t", replay=0, turn=0, requested_output_tokens=5)
    assert r.ttft == float("inf") and r.output_speed == 0.0


async def test_reset_mid_stream_keeps_what_arrived(serve: Serve, backend: Backend) -> None:
    url = await serve(Behaviour(fail="reset", gap=0.01))
    async with StreamClient(url, backend=backend) as client:
        raw = await one(client, chat_body("m", MESSAGES, max_tokens=20))
        assert raw.status == 200
        assert raw.error is not None and "mid-stream" in raw.error
        assert raw.chunks, "the chunks before the reset are kept"
        p = parse_stream(raw)
        assert not p.ok and p.error == raw.error and p.failure == "reset"
        assert p.client_output_tokens >= 1
        # the client is still usable after a reset
        again = await one(client, chat_body("m", MESSAGES, max_tokens=3))
        assert again.error is not None  # same server resets again, as a failure, not an exception


@pytest.mark.parametrize(
    ("fail", "message"),
    [
        ("malformed", "malformed stream: event 3 is not JSON"),
        ("no_done", "stream ended without data: [DONE]"),
        ("error_event", "error in stream: out of KV cache"),
        ("not_sse", "not an SSE stream"),
    ],
)
async def test_bad_streams_are_failures(serve: Serve, backend: Backend, fail: str, message: str) -> None:
    url = await serve(Behaviour(fail=fail))
    async with StreamClient(url, backend=backend) as client:
        raw = await one(client, chat_body("m", MESSAGES, max_tokens=6))
    assert raw.error is None and raw.status == 200
    p = parse_stream(raw)
    assert not p.ok
    assert p.error is not None and p.error.startswith(message), p.error


@pytest.mark.parametrize("stage", ["stall_headers", "stall_body"])
async def test_read_timeout_is_recorded(serve: Serve, backend: Backend, stage: str) -> None:
    url = await serve(Behaviour(fail=stage, stall=3.0))
    async with StreamClient(url, backend=backend, read_timeout=0.3) as client:
        t0 = clock()
        raw = await one(client, chat_body("m", MESSAGES, max_tokens=6))
        took = clock() - t0
    assert 0.25 <= took < 2.0
    assert raw.error is not None and "timeout" in raw.error
    assert ("before the response" in raw.error) == (stage == "stall_headers")
    assert not parse_stream(raw).ok


async def test_unreachable_server(dead_url: str, backend: Backend) -> None:
    async with StreamClient(dead_url, backend=backend, connect_timeout=2) as client:
        raw = await one(client, chat_body("m", MESSAGES, max_tokens=6))
        assert raw.status is None and raw.chunks == []
        assert raw.error is not None and raw.error.startswith("connect error")
        assert raw.t_sent <= raw.t_end
        p = parse_stream(raw)
        assert not p.ok and p.error == raw.error
        with pytest.raises(EndpointError) as info:
            await client.get_json("/v1/models")
        assert info.value.kind == "unreachable"


@pytest.mark.parametrize("delay", [0.0, 0.03])
async def test_server_closing_after_each_response(serve: Serve, backend: Backend, delay: float) -> None:
    """llama.cpp closes every connection after a streamed response while advertising keep-alive.
    With a delay, the client has already reused the connection when the close comes."""
    url = await serve(Behaviour(close_after_response=True, close_delay=delay))
    body = chat_body("m", MESSAGES, max_tokens=4)
    async with StreamClient(url, backend=backend) as client:
        sequential = [await one(client, body) for _ in range(12)]

        async def agent() -> list[RawExchange]:
            return [await one(client, body) for _ in range(4)]

        concurrent = [r for rs in await asyncio.gather(*(agent() for _ in range(8))) for r in rs]
        for raw in sequential + concurrent:
            p = parse_stream(raw)
            assert p.ok, p.error
            assert p.output_tokens == 4
        if delay:
            assert client.stats.reuse_retries >= 1
            assert client.stats.closes_connections


async def test_server_idle_timeout_between_requests(serve: Serve, backend: Backend) -> None:
    """A server closing idle connections (uvicorn after 5 s) costs no failure and no retry."""
    url = await serve(Behaviour(idle_timeout=0.1))
    async with StreamClient(url, backend=backend) as client:
        for _ in range(4):
            assert parse_stream(await one(client, chat_body("m", MESSAGES, max_tokens=3))).ok
            await asyncio.sleep(0.25)
        assert client.stats.requests == 4 and client.stats.reuse_retries == 0


async def test_keep_alive_server_reuses_without_retries(serve: Serve, backend: Backend) -> None:
    b = Behaviour()
    url = await serve(b)
    async with StreamClient(url, backend=backend, api_key="sk-1") as client:
        raws = await asyncio.gather(*(one(client, chat_body("m", MESSAGES, max_tokens=3)) for _ in range(30)))
        assert all(parse_stream(r).ok for r in raws)
        assert client.stats.reuse_retries == 0 and not client.stats.closes_connections
    assert len(b.requests) == 30
    assert b.requests[0]["stream"] is True


async def test_connection_limit_queues_requests(serve: Serve, backend: Backend) -> None:
    b = Behaviour(gap=0.01)
    url = await serve(b)
    async with StreamClient(url, backend=backend, max_connections=2) as client:
        raws = await asyncio.gather(*(one(client, chat_body("m", MESSAGES, max_tokens=4)) for _ in range(6)))
    assert all(parse_stream(r).ok for r in raws)
    assert b.peak_streaming == 2
    # the later requests waited for a connection: they started after the first ones ended
    starts = sorted(r.times[0] for r in raws)
    ends = sorted(r.t_end for r in raws)
    assert starts[2] >= ends[0]


async def test_api_key_is_sent(serve: Serve, backend: Backend) -> None:
    url = await serve(Behaviour(api_key="sk-secret"))
    async with StreamClient(url, backend=backend, api_key="sk-secret") as client:
        assert parse_stream(await one(client, chat_body("m", MESSAGES, max_tokens=2))).ok
        assert (await client.get_json("/v1/models"))["data"][0]["id"] == "m"
    async with StreamClient(url, backend=backend, api_key="wrong") as client:
        p = parse_stream(await one(client, chat_body("m", MESSAGES, max_tokens=2)))
        assert not p.ok and p.error == "HTTP 401: invalid api key (401)"
        with pytest.raises(EndpointError) as info:
            await client.get_json("/v1/models")
        assert info.value.status == 401


def test_base_url_forms() -> None:
    assert normalise_base_url("http://h:8000/v1/") == "http://h:8000"
    assert normalise_base_url(" https://h/proxy/v1") == "https://h/proxy"
    with pytest.raises(ValueError, match="must start with http"):
        normalise_base_url("h:8000")
    with pytest.raises(ValueError, match="unknown client backend"):
        StreamClient("http://h", backend="curl")  # type: ignore[arg-type]
