"""Small helpers for talking to a real server in tests: one streamed request, raw SSE excerpts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from agentperf_tui.core.client.sse import ParsedStream, iter_events, parse_stream
from agentperf_tui.core.client.stream import DEFAULT_BACKEND, Backend, StreamClient
from agentperf_tui.core.records import RawExchange

SENTENCE = (
    "the build failed on the second step so read the log then open the config file and fix "
    "the path before running the tests again with the verbose flag and report what changed"
)
WORDS = SENTENCE.split()


def prompt_text(n_words: int, salt: str = "") -> str:
    """Plain words (any tokenizer handles them), with an optional leading marker."""
    body = " ".join(WORDS[i % len(WORDS)] for i in range(n_words))
    return f"{salt} {body}" if salt else body


def clock_from_now() -> Any:
    t0 = time.perf_counter()
    return lambda: time.perf_counter() - t0


async def stream_once(
    base_url: str, path: str, body: bytes, *, backend: Backend = DEFAULT_BACKEND, timeout_s: float = 120.0
) -> tuple[RawExchange, ParsedStream]:
    clock = clock_from_now()
    async with StreamClient(base_url, read_timeout=timeout_s, backend=backend) as client:
        raw = await asyncio.wait_for(client.stream(path, body, clock(), clock), timeout_s)
    return raw, parse_stream(raw)


def json_events(raw: RawExchange) -> list[dict[str, Any]]:
    out = []
    for ev in iter_events(raw.chunks, raw.times):
        if ev.data is None or ev.data == b"[DONE]":
            continue
        obj = orjson.loads(ev.data)
        if isinstance(obj, dict):
            out.append(obj)
    return out


def usage_event(raw: RawExchange) -> dict[str, Any]:
    found = [e for e in json_events(raw) if e.get("usage")]
    assert found, f"no event with usage in the stream:\n{sse_excerpt(raw)}"
    assert len(found) == 1, f"{len(found)} events carry usage:\n{sse_excerpt(raw)}"
    return found[0]


def sse_excerpt(raw: RawExchange, tail_events: int = 3, width: int = 400) -> str:
    """The last few SSE events as the server sent them (for assertion messages and reports)."""
    lines = [(ev.data or b"").decode(errors="replace")[:width] for ev in iter_events(raw.chunks, raw.times)]
    return "\n".join("data: " + line for line in lines[-tail_events:])
