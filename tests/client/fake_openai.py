"""A small OpenAI-compatible aiohttp server whose streams imitate vLLM's and llama.cpp's byte for byte
in the parts the client depends on, plus the failures a client must survive."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Behaviour:
    style: str = "vllm"
    """"vllm": usage in a separate `choices: []` chunk; "llamacpp": the same for chat, usage inside
    the finish chunk for /v1/completions, `/v1/models` with `meta`."""
    models: list[dict[str, Any]] = field(default_factory=lambda: [{"id": "m", "max_model_len": 4096}])
    api_key: str | None = None
    natural_tokens: int | None = None
    """The "model" stops (EOS) after this many tokens unless told otherwise; None: never early."""
    honour_ignore_eos: bool = True
    honour_min_tokens: bool = True
    reject_fields: tuple[str, ...] = ()
    """Fields answered with HTTP 422 (like `transformers serve` does `ignore_eos`)."""
    reasoning_tokens: int = 0
    """The first tokens go out as `reasoning_content` deltas."""
    tool_call: bool = False
    """The last token goes out as a `tool_calls` delta."""
    gap: float = 0.0
    ttft: float = 0.0
    close_after_response: bool = False
    """Close the connection after each response although it advertises keep-alive (llama.cpp)."""
    close_delay: float = 0.0
    """With close_after_response: wait this long before closing, long enough for a client to reuse
    the connection for its next request, which the close then drops unanswered."""
    idle_timeout: float = 75.0
    """Seconds the server keeps an idle keep-alive connection open (aiohttp's default is 75)."""
    split_events: bool = False
    """Write every event in three pieces, flushed apart, so events cross network chunks."""
    batch_events: bool = False
    """Write all events of the response in one piece."""
    crlf: bool = False
    gzip: bool = False
    """Compress the stream although the client asked for identity."""
    pings: bool = False
    """SSE comment lines between events (llama.cpp's `:` keep-alive)."""
    fail: str | None = None
    """"http500", "reset", "malformed", "no_done", "error_event", "stall_headers", "stall_body",
    "not_sse"."""
    stall: float = 5.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    streaming: int = 0
    peak_streaming: int = 0


def _chunk(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def chat_events(b: Behaviour, n: int, prompt_tokens: int, completions: bool) -> list[bytes]:
    obj = "text_completion" if completions else "chat.completion.chunk"
    base = {"id": "cmpl-1", "object": obj, "created": 1, "model": "m"}
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": n,
        "total_tokens": prompt_tokens + n,
        "prompt_tokens_details": {"cached_tokens": 3},
    }
    if b.reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": min(b.reasoning_tokens, n)}
    events: list[bytes] = []
    if not completions:
        events.append(
            _chunk(
                {
                    **base,
                    "choices": [
                        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                    ],
                }
            )
        )
    finish = "length" if b.natural_tokens is None or n < b.natural_tokens else "stop"
    for i in range(n):
        if completions:
            choice: dict[str, Any] = {"index": 0, "text": f" w{i}", "logprobs": None, "finish_reason": None}
        elif i < b.reasoning_tokens:
            choice = {"index": 0, "delta": {"reasoning_content": f" r{i}"}, "finish_reason": None}
        elif b.tool_call and i == n - 1:
            call = {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "ls", "arguments": "{}"},
            }
            choice = {"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}
        else:
            choice = {"index": 0, "delta": {"content": f" w{i}"}, "finish_reason": None}
        events.append(_chunk({**base, "choices": [choice]}))
    if completions and b.style == "llamacpp":
        events.append(
            _chunk(
                {
                    **base,
                    "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": finish}],
                    "usage": usage,
                }
            )
        )
    else:
        key = "text" if completions else "delta"
        empty: Any = "" if completions else {}
        events.append(_chunk({**base, "choices": [{"index": 0, key: empty, "finish_reason": finish}]}))
        last = {**base, "choices": [], "usage": usage}
        if b.style == "llamacpp":
            last["timings"] = {"prompt_n": prompt_tokens, "predicted_n": n}
        events.append(_chunk(last))
    events.append(b"data: [DONE]\n\n")
    return events


def _reset(request: web.Request) -> None:
    assert request.transport is not None
    sock: socket.socket | None = request.transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.transport.abort()


def make_app(b: Behaviour) -> web.Application:
    async def models(request: web.Request) -> web.StreamResponse:
        if b.api_key and request.headers.get("Authorization") != f"Bearer {b.api_key}":
            return web.json_response({"error": {"message": "invalid api key", "code": 401}}, status=401)
        return web.json_response({"object": "list", "data": b.models})

    async def props(request: web.Request) -> web.StreamResponse:
        return web.json_response({"default_generation_settings": {"n_ctx": 2048}, "total_slots": 4})

    async def completions(request: web.Request) -> web.StreamResponse:
        if b.api_key and request.headers.get("Authorization") != f"Bearer {b.api_key}":
            return web.json_response({"error": {"message": "invalid api key", "code": 401}}, status=401)
        body = await request.json()
        b.requests.append(body)
        for name in b.reject_fields:
            if name in body:
                return web.json_response({"detail": f"unexpected field {name}"}, status=422)
        max_tokens = int(body["max_tokens"])
        if b.fail == "http500":
            return web.json_response({"error": {"message": "engine crashed", "code": 500}}, status=500)
        if b.fail == "stall_headers":
            await asyncio.sleep(b.stall)
        n = max_tokens
        if b.natural_tokens is not None and b.natural_tokens < n:
            floor = body.get("min_tokens", 0) if b.honour_min_tokens else 0
            if not (b.honour_ignore_eos and body.get("ignore_eos")):
                n = max(b.natural_tokens, min(floor, max_tokens))
        completions_path = request.path.endswith("/v1/completions")
        prompt_tokens = len(str(body.get("prompt") or body.get("messages")).split())
        events = chat_events(b, n, prompt_tokens, completions_path)
        if b.fail == "malformed":
            events[2] = b'data: {"choices": [{"delta": {"content": "x"}\n\n'
        elif b.fail == "no_done":
            events = events[:-1]
        elif b.fail == "error_event":
            events = [*events[:3], _chunk({"error": {"message": "out of KV cache", "code": 503}})]
        elif b.fail == "not_sse":
            return web.json_response({"choices": [{"message": {"content": "hi"}}]})
        if b.crlf:
            events = [e.replace(b"\n", b"\r\n") for e in events]
        if b.pings:
            events = [x for e in events for x in (e, b":\n\n")]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        if b.gzip:
            resp.enable_compression(web.ContentCoding.gzip)
        await resp.prepare(request)
        b.streaming += 1
        b.peak_streaming = max(b.peak_streaming, b.streaming)
        try:
            await send(request, resp, events)
        finally:
            b.streaming -= 1
        return resp

    async def send(request: web.Request, resp: web.StreamResponse, events: list[bytes]) -> None:
        if b.ttft:
            await asyncio.sleep(b.ttft)
        if b.batch_events:
            await resp.write(b"".join(events))
        else:
            for i, event in enumerate(events):
                if b.fail == "reset" and i == 4:
                    _reset(request)
                    return
                if b.fail == "stall_body" and i == 3:
                    await asyncio.sleep(b.stall)
                if b.split_events:
                    third = max(1, len(event) // 3)
                    for part in (event[:third], event[third : 2 * third], event[2 * third :]):
                        await resp.write(part)
                        await asyncio.sleep(0.002)
                else:
                    await resp.write(event)
                if b.gap:
                    await asyncio.sleep(b.gap)
        await resp.write_eof()
        if b.close_after_response:
            transport = request.transport
            assert transport is not None
            if b.close_delay:
                await asyncio.sleep(b.close_delay)
            transport.close()

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_get("/props", props)
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_post("/v1/completions", completions)
    return app
