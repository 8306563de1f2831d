"""Parse a recorded stream (`RawExchange`) into the figures a request is judged by, off the hot path.

Handles both OpenAI-style endpoints as servers really send them: `/v1/chat/completions` (output in
`delta.content`, `delta.reasoning_content` / `delta.reasoning`, `delta.tool_calls`) and
`/v1/completions` (output in `text`); usage in a separate `choices: []` chunk (vLLM, llama.cpp chat)
or inside the finish chunk (llama.cpp completions); SSE events split across network chunks or
several in one chunk; LF, CRLF or CR line ends; comments; `data: [DONE]`; error objects in the stream.

An event's time is the receive time of the network chunk that completed it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from agentperf_tui.core.client.errors import excerpt
from agentperf_tui.core.records import RawExchange

NO_OUTPUT = "no output token in the stream"
"""The error of a complete stream without any output delta (the model may have stopped at once)."""


class SseEvent(NamedTuple):
    t: float
    """Receive time of the chunk that completed the event."""
    event: bytes
    """The `event:` field, b"" when absent."""
    data: bytes | None
    """The `data:` lines joined by newlines; None for an event without data (a comment, a ping)."""


@dataclass(slots=True)
class ParsedStream:
    ok: bool
    error: str | None
    """Why the request failed: transport error, HTTP status and body excerpt, malformed stream,
    error object in the stream, no `[DONE]`, no output token. None when ok."""
    http_status: int | None
    t_first_token: float | None = None
    """Receive time of the first chunk holding an output delta of any kind."""
    t_last_token: float | None = None
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    output_tokens: int | None = None
    """usage.completion_tokens; None when the server sent no usage."""
    reasoning_tokens: int | None = None
    client_output_tokens: int = 0
    """Events holding a non-empty output delta (reasoning, content, tool call or completion text)."""
    finish_reason: str | None = None
    failure: str | None = None
    """The failure kind (records.FAILURE_KINDS) when not ok."""
    done: bool = False
    """`data: [DONE]` arrived."""
    events: int = 0


def _field(line: bytes) -> tuple[bytes, bytes]:
    name, sep, value = line.partition(b":")
    if sep and value.startswith(b" "):
        value = value[1:]
    return name, value


def _parse_block(block: bytes) -> tuple[bytes, bytes | None]:
    if block.startswith(b"data:") and b"\n" not in block:
        data = block[5:]
        return b"", data[1:] if data.startswith(b" ") else data
    event = b""
    data_lines: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, value = _field(line)
        if name == b"data":
            data_lines.append(value)
        elif name == b"event":
            event = value
    return event, (b"\n".join(data_lines) if data_lines else None)


def iter_events(chunks: Sequence[bytes], times: Sequence[float]) -> Iterator[SseEvent]:
    """The SSE events of a recorded stream, in order. A last event missing its closing blank line
    is still yielded."""
    buf = b""
    t = 0.0
    for data, t in zip(chunks, times, strict=False):  # appended in pairs by the stream loop
        if buf:
            data = buf + data
        if b"\r" in data:
            keep_cr = data.endswith(b"\r")  # may be the first half of a CRLF split across chunks
            data = data[:-1] if keep_cr else data
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if keep_cr:
                data += b"\r"
        start = 0
        while (end := data.find(b"\n\n", start)) >= 0:
            if end > start:
                yield SseEvent(t, *_parse_block(data[start:end]))
            start = end + 2
        buf = data[start:]
    buf = buf.replace(b"\r", b"\n").strip(b"\n")
    if buf:
        yield SseEvent(t, *_parse_block(buf))


def _error_message(obj: Any) -> str:
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or err
            code = err.get("code") or err.get("type")
            return f"{msg} ({code})" if code else str(msg)
        if isinstance(err, str):
            return err
        if "detail" in obj:
            return str(obj["detail"])
    return str(obj)


def _http_error(status: int, body: bytes, retry_after: str | None) -> str:
    try:
        message = _error_message(orjson.loads(body))
    except orjson.JSONDecodeError:
        message = excerpt(body)
    text = f"HTTP {status}: {excerpt(message.encode()) or '(empty body)'}"
    return text + (f" (Retry-After: {retry_after})" if retry_after else "")


def _transport_failure(error: str) -> str:
    """The kind of a transport-level error (the transports word them the same way)."""
    low = error.lower()
    # "connect error" / "connect timeout": no connection; "connection error ...": one that broke
    if low.startswith(("connect error", "connect timeout")) or low == "no response":
        return "connect"
    if "timeout" in low:
        return "timeout"
    if low.startswith("bad http response"):
        return "malformed"
    return "reset"


def _has_output(choice: dict[str, Any]) -> bool:
    delta = choice.get("delta")
    if delta is not None:
        return bool(
            delta.get("content")
            or delta.get("reasoning_content")
            or delta.get("reasoning")
            or delta.get("tool_calls")
        )
    return bool(choice.get("text"))


def first_output_time(chunks: Sequence[bytes], times: Sequence[float]) -> float | None:
    """When the first output delta of a stream (possibly still going) arrived; None: not yet."""
    for t, _event, data in iter_events(chunks, times):
        if not data or data == b"[DONE]":
            continue
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        choices = obj.get("choices") if isinstance(obj, dict) else None
        if choices and any(_has_output(c) for c in choices if isinstance(c, dict)):
            return t
    return None


def complete_reply(p: ParsedStream) -> bool:
    """A complete reply; one with no output at all counts (the model stopped at once)."""
    return p.ok or p.error == NO_OUTPUT


def parse_stream(raw: RawExchange) -> ParsedStream:
    """Figures of one recorded request; never raises on bad server output, reports it in `error`."""
    out = ParsedStream(ok=False, error=None, http_status=raw.status)
    if raw.status is not None and raw.status != 200:
        out.error = _http_error(raw.status, b"".join(raw.chunks), raw.retry_after)
        out.failure = "rate_limited" if raw.status == 429 else "http"
        return out
    problem: str | None = None
    data_events = 0
    for t, event, data in iter_events(raw.chunks, raw.times):
        out.events += 1
        if data is None:
            continue
        data_events += 1
        if data == b"[DONE]":
            out.done = True
            break
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            problem = f"malformed stream: event {out.events} is not JSON: {excerpt(data, 120)}"
            break
        if not isinstance(obj, dict):
            problem = f"malformed stream: event {out.events} is not a JSON object: {excerpt(data, 120)}"
            break
        if event == b"error" or "error" in obj or obj.get("object") == "error":
            problem = f"error in stream: {_error_message(obj)}"
            break
        choices = obj.get("choices")
        if choices:
            produced = False
            for choice in choices:
                if _has_output(choice):
                    produced = True
                finish = choice.get("finish_reason")
                if finish:
                    out.finish_reason = finish
            if produced:
                out.client_output_tokens += 1
                if out.t_first_token is None:
                    out.t_first_token = t
                out.t_last_token = t
        usage = obj.get("usage")
        if usage:
            out.prompt_tokens = usage.get("prompt_tokens")
            out.output_tokens = usage.get("completion_tokens")
            out.cached_tokens = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
            out.reasoning_tokens = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if raw.error is not None:
        out.error = raw.error
        out.failure = raw.failure or _transport_failure(raw.error)
    elif raw.status is None:
        out.error, out.failure = "no response", "connect"
    elif problem is not None:
        out.error = problem
        out.failure = "server_error" if problem.startswith("error in stream") else "malformed"
    elif data_events == 0:
        body = b"".join(raw.chunks)
        out.error = f"not an SSE stream: {excerpt(body, 120) or '(empty body)'}"
        out.failure = "malformed"
    elif not out.done:
        out.error, out.failure = "stream ended without data: [DONE]", "truncated"
    elif out.t_first_token is None:
        out.error, out.failure = NO_OUTPUT, "no_output"
    out.ok = out.error is None
    return out
