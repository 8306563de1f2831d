"""parse_stream on recorded byte sequences: every way of cutting a stream into network chunks
must give the same figures."""

from __future__ import annotations

import itertools
import json

import pytest

from agentperf_tui.core.client.sse import iter_events, parse_stream
from agentperf_tui.core.records import RawExchange

from .fake_openai import Behaviour, chat_events


def stream_bytes(b: Behaviour, n: int, completions: bool = False) -> bytes:
    return b"".join(chat_events(b, n, 11, completions))


def cut(data: bytes, *points: int) -> RawExchange:
    """A recorded exchange whose chunks are `data` cut at `points`, chunk k received at time k+1."""
    edges = [0, *points, len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(edges) if b > a]
    raw = RawExchange(t_intended=0.0, t_sent=0.5, status=200, t_end=len(chunks) + 1.0)
    raw.chunks = chunks
    raw.times = [float(i + 1) for i in range(len(chunks))]
    return raw


def figures(raw: RawExchange) -> tuple[object, ...]:
    p = parse_stream(raw)
    return (
        p.ok,
        p.error,
        p.output_tokens,
        p.client_output_tokens,
        p.prompt_tokens,
        p.cached_tokens,
        p.reasoning_tokens,
        p.finish_reason,
        p.done,
    )


@pytest.mark.parametrize(
    "behaviour",
    [
        Behaviour(style="vllm", reasoning_tokens=2, tool_call=True),
        Behaviour(style="llamacpp", crlf=True),
        Behaviour(pings=True),
    ],
)
def test_every_two_chunk_cut_gives_the_same_figures(behaviour: Behaviour) -> None:
    if behaviour.crlf:
        data = stream_bytes(behaviour, 5).replace(b"\n", b"\r\n")
    else:
        data = stream_bytes(behaviour, 5)
    whole = figures(cut(data))
    assert whole[:4] == (True, None, 5, 5)
    for i in range(1, len(data)):
        assert figures(cut(data, i)) == whole, f"cut at byte {i}: {data[max(0, i - 10) : i + 10]!r}"


def test_token_times_follow_the_chunk_that_completes_the_event() -> None:
    data = stream_bytes(Behaviour(), 3)
    first = data.index(b"w0")
    # chunk 1 ends inside the first token's event, chunk 2 completes it
    p = parse_stream(cut(data, first))
    assert p.t_first_token == 2.0
    lines = data.split(b"\n\n")
    # one chunk per event: role chunk at t=1, tokens at t=2,3,4
    edges = []
    pos = 0
    for part in lines[:-1]:
        pos += len(part) + 2
        edges.append(pos)
    p = parse_stream(cut(data, *edges[:-1]))
    assert (p.t_first_token, p.t_last_token) == (2.0, 4.0)


def test_completions_usage_inside_finish_chunk() -> None:
    data = stream_bytes(Behaviour(style="llamacpp"), 4, completions=True)
    assert b'"choices":[]' not in data
    p = parse_stream(cut(data))
    assert p.ok and (p.output_tokens, p.client_output_tokens, p.prompt_tokens) == (4, 4, 11)


def test_continuous_usage_keeps_the_last() -> None:
    events = [
        {"choices": [{"index": 0, "delta": {"content": "a"}}], "usage": {"completion_tokens": 1}},
        {"choices": [{"index": 0, "delta": {"content": "b"}}], "usage": {"completion_tokens": 2}},
        {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}},
        {"choices": [], "usage": None},
    ]
    data = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    p = parse_stream(cut(data))
    assert p.ok and (p.output_tokens, p.prompt_tokens, p.client_output_tokens) == (2, 7, 2)


def test_sse_fields_comments_and_multiline_data() -> None:
    data = (
        b': hello\n\nevent: message\nid: 1\ndata: {"choices": [{"index": 0,\ndata: "text": "x"}]}\n\n'
        b"data:[DONE]"
    )
    events = list(iter_events([data], [1.0]))
    assert [e.data for e in events] == [None, b'{"choices": [{"index": 0,\n"text": "x"}]}', b"[DONE]"]
    assert events[1].event == b"message"
    p = parse_stream(cut(data))
    assert p.ok and p.client_output_tokens == 1 and p.done


def test_error_event_type_and_object_error() -> None:
    data = b'event: error\ndata: {"message": "shutting down"}\n\n'
    assert parse_stream(cut(data)).error == "error in stream: shutting down"
    data = b'data: {"object": "error", "message": "too long", "code": 400}\n\n'
    assert parse_stream(cut(data)).error == "error in stream: too long (400)"


def test_empty_deltas_are_no_tokens_and_no_output_is_a_failure() -> None:
    data = (
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"tool_calls":[]},"finish_reason":"stop"}]}\n\n'
        b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":0}}\n\ndata: [DONE]\n\n'
    )
    p = parse_stream(cut(data))
    assert not p.ok and p.error == "no output token in the stream"
    assert p.client_output_tokens == 0 and p.output_tokens == 0 and p.finish_reason == "stop"


def test_http_error_bodies() -> None:
    raw = cut(b'{"detail": "Not Found"}')
    raw.status = 404
    assert parse_stream(raw).error == "HTTP 404: Not Found"
    raw = cut(b"<html>bad gateway</html>")
    raw.status = 502
    assert parse_stream(raw).error == "HTTP 502: <html>bad gateway</html>"
    raw = cut(b"")
    raw.status = 503
    assert parse_stream(raw).error == "HTTP 503: (empty body)"


def test_no_response_at_all() -> None:
    raw = RawExchange(t_intended=0.0, t_sent=0.0, t_end=1.0, error="connect error: refused")
    p = parse_stream(raw)
    assert not p.ok and p.error == "connect error: refused" and p.http_status is None
