"""The stream client against real servers: where usage arrives, connections the server closes,
and which exact-length fields a server honours (checked directly, without the probe)."""

from __future__ import annotations

import asyncio
import typing

import pytest
from realservers_streams import prompt_text, sse_excerpt, stream_once, usage_event
from realservers_targets import Target

from agentperf_tui.core.client.request import CHAT_PATH, COMPLETIONS_PATH, chat_body, completion_body
from agentperf_tui.core.client.sse import NO_OUTPUT, parse_stream
from agentperf_tui.core.client.stream import Backend, StreamClient

pytestmark = pytest.mark.realserver


def _chat(target: Target, n: int, **kw: object) -> bytes:
    msgs = [{"role": "user", "content": prompt_text(40)}]
    return chat_body(target.model, msgs, max_tokens=n, **kw)  # type: ignore[arg-type]


async def test_chat_usage_arrives_in_its_own_empty_choices_chunk(real_server: Target) -> None:
    raw, parsed = await stream_once(real_server.base_url, CHAT_PATH, _chat(real_server, 12))
    assert parsed.ok, parsed.error
    assert parsed.done
    assert parsed.output_tokens == 12, sse_excerpt(raw)
    ev = usage_event(raw)
    in_finish_chunk = bool(ev.get("choices"))
    assert in_finish_chunk == real_server.expect.usage_in_finish_chunk_chat, sse_excerpt(raw)
    assert parsed.prompt_tokens and parsed.prompt_tokens > 0


async def test_completions_usage_placement(real_server: Target) -> None:
    """vLLM: a separate `choices: []` chunk. llama.cpp: inside the chunk with finish_reason."""
    body = completion_body(real_server.model, prompt_text(40), max_tokens=12)
    raw, parsed = await stream_once(real_server.base_url, COMPLETIONS_PATH, body)
    assert parsed.ok, parsed.error
    assert parsed.output_tokens == 12, sse_excerpt(raw)
    ev = usage_event(raw)
    choices = ev.get("choices") or []
    in_finish_chunk = bool(choices) and any(c.get("finish_reason") for c in choices)
    assert in_finish_chunk == real_server.expect.usage_in_finish_chunk_completions, sse_excerpt(raw)
    assert parsed.finish_reason == "length"


async def _raw_keepalive_exchange(target: Target) -> tuple[dict[str, str], bool]:
    """One streamed POST on a raw HTTP/1.1 socket asking for keep-alive: (headers, closed after)."""
    host, port = target.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = _chat(target, 4)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        b"Content-Type: application/json\r\nConnection: keep-alive\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 200"), head
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await asyncio.wait_for(reader.readuntil(b"\r\n"), 60)).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await asyncio.wait_for(reader.read(), 60)
    try:
        extra = await asyncio.wait_for(reader.read(1), 2.0)
        closed = extra == b""
    except TimeoutError:
        closed = False
    writer.close()
    return headers, closed


async def test_connection_after_a_streamed_reply(real_server: Target) -> None:
    """llama.cpp closes the connection after each streamed reply although it does not say
    `Connection: close`; vLLM keeps it open."""
    headers, closed = await _raw_keepalive_exchange(real_server)
    assert headers.get("connection", "keep-alive").lower() != "close", headers
    assert closed == real_server.expect.closes_after_stream, headers


@pytest.mark.parametrize("backend", typing.get_args(Backend))
async def test_client_reuses_connections_safely(real_server: Target, backend: str) -> None:
    """Sequential and concurrent requests on one pooled client all succeed, whether or not the
    server closes connections behind the client's back."""
    async with StreamClient(real_server.base_url, read_timeout=60, backend=backend) as client:  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        def clock() -> float:
            return loop.time() - t0

        results = []
        for _ in range(4):
            results.append(await client.stream(CHAT_PATH, _chat(real_server, 6), clock(), clock))
            await asyncio.sleep(0.05)
        for _ in range(2):
            results += await asyncio.gather(
                *(client.stream(CHAT_PATH, _chat(real_server, 6), clock(), clock) for _ in range(3))
            )
        stats = client.stats
    parsed = [parse_stream(r) for r in results]
    errors = [p.error for p in parsed if not p.ok]
    assert not errors, f"{len(errors)} of {len(parsed)} failed ({stats}): {errors[:3]}"
    assert all(p.output_tokens == 6 for p in parsed)
    if not real_server.expect.closes_after_stream:
        assert stats.reuse_retries == 0
        assert not stats.closes_connections


N_EXACT = 96
"""Long enough that the early-EOS model (about 8 % per token) stops before it: 0.92**96 < 0.1 %."""


async def _lengths(target: Target, **kw: object) -> list[int]:
    out = []
    for i in range(3):
        msgs = [{"role": "user", "content": prompt_text(30, salt=f"r{i}")}]
        body = chat_body(target.model, msgs, max_tokens=N_EXACT, **kw)  # type: ignore[arg-type]
        raw, parsed = await stream_once(target.base_url, CHAT_PATH, body)
        # a reply that is only end-of-sequence carries no output delta, but usage still counts it
        assert parsed.ok or parsed.error == NO_OUTPUT, parsed.error
        assert parsed.output_tokens is not None, sse_excerpt(raw)
        out.append(parsed.output_tokens)
    return out


async def test_model_ends_early_without_exact_length_fields(real_server: Target) -> None:
    """The control: without ignore_eos/min_tokens the served model stops well before the limit,
    so the two checks below can tell a server that honours a field from one that ignores it."""
    lengths = await _lengths(real_server, exact=False)
    assert all(n < N_EXACT for n in lengths), lengths


async def test_ignore_eos_alone_gives_the_exact_length(real_server: Target) -> None:
    lengths = await _lengths(real_server, exact_fields=("ignore_eos",))
    honoured = all(n == N_EXACT for n in lengths)
    assert honoured == real_server.expect.honours_ignore_eos, lengths


async def test_min_tokens_alone(real_server: Target) -> None:
    """vLLM honours min_tokens; llama.cpp accepts it with HTTP 200 and ignores it silently."""
    lengths = await _lengths(real_server, exact_fields=("min_tokens",))
    if real_server.expect.honours_min_tokens:
        assert lengths == [N_EXACT] * 3
    else:
        assert all(n < N_EXACT for n in lengths), lengths
