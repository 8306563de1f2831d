"""Parse a recorded stream (`RawExchange`) into the figures a request is judged by, off the hot path.

Handles both OpenAI-style endpoints as servers really send them: `/v1/chat/completions` (output in
`delta.content`, `delta.reasoning_content` / `delta.reasoning`, `delta.tool_calls`) and
`/v1/completions` (output in `text`); usage in a separate `choices: []` chunk (vLLM, llama.cpp chat)
or inside the finish chunk (llama.cpp completions); SSE events split across network chunks or
several in one chunk; LF, CRLF or CR line ends; comments; `data: [DONE]`; error objects in the stream.

An event's time is the receive time of the network chunk that completed it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
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


class Blocks:
    """The SSE event blocks of a recorded stream (the text between blank lines), and when each
    was complete: the receive time of the network chunk holding the end of its blank line.

    Streams with LF line ends (every server seen) are joined and split once; CR or CRLF line
    ends are normalised chunk by chunk, since a CRLF may be split across two chunks."""

    __slots__ = ("_block_times", "_ends", "_single_lines", "_times", "blocks", "tail")

    def __init__(self, chunks: Sequence[bytes], times: Sequence[float]) -> None:
        n = min(len(chunks), len(times))  # a copy of a stream in flight may hold one more of either
        chunks = chunks[:n]  # a fixed copy: the stream loop may append while this runs
        self._times = times
        self.blocks: list[bytes] = []
        """Event blocks in order; empty ones (extra blank lines) included, to be skipped."""
        self.tail = False
        """Whether the last block is a last event missing its closing blank line."""
        self._ends: list[int] = []
        """LF streams: the stream offset at which each chunk ends."""
        self._block_times: list[float] | None = None
        """CR streams: the time of each block."""
        self._single_lines = False
        """Every block is one non-empty line."""
        data = b"".join(chunks)
        if b"\r" in data:
            self._split_lines(chunks, times)
            return
        self.blocks = blocks = data.split(b"\n\n")
        self._ends = list(accumulate(map(len, chunks)))
        self._single_lines = data.count(b"\n") == 2 * (len(blocks) - 1) and b"" not in blocks[:-1]
        last = blocks.pop().strip(b"\n")
        if last:
            blocks.append(last)
            self.tail = True

    def _split_lines(self, chunks: Sequence[bytes], times: Sequence[float]) -> None:
        blocks = self.blocks
        block_times: list[float] = []
        buf = b""
        t = 0.0
        for data, t in zip(chunks, times, strict=False):
            if buf:
                data = buf + data
            if b"\r" in data:
                keep_cr = data.endswith(b"\r")  # may be the first half of a CRLF split across chunks
                data = data[:-1] if keep_cr else data
                data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                if keep_cr:
                    data += b"\r"
            parts = data.split(b"\n\n")
            buf = parts.pop()
            blocks += parts
            block_times += [t] * len(parts)
        buf = buf.replace(b"\r", b"\n").strip(b"\n")
        if buf:
            blocks.append(buf)
            block_times.append(t)
            self.tail = True
        self._block_times = block_times

    def time(self, i: int) -> float:
        """When block i was complete."""
        if self._block_times is not None:
            return self._block_times[i]
        if self.tail and i == len(self.blocks) - 1:
            return self._times[len(self._ends) - 1]
        end = sum(map(len, self.blocks[: i + 1])) + 2 * (i + 1)
        return self._times[bisect_left(self._ends, end)]

    def times(self) -> list[float]:
        """When each block was complete, in one pass."""
        if self._block_times is not None:
            return self._block_times
        out: list[float] = []
        ends, times = self._ends, self._times
        end = 0
        k = 0
        for block in self.blocks:
            end += len(block) + 2
            while k < len(ends) - 1 and ends[k] < end:
                k += 1
            out.append(times[k])
        return out

    def events(self) -> Events:
        """The events (non-empty blocks), parsed."""
        if self._single_lines:
            datas: list[bytes | None] = [b[6:] for b in self.blocks if b.startswith(b"data: ")]
            if len(datas) == len(self.blocks):  # nearly every stream: one `data: ` line per event
                return Events(range(len(datas)), None, datas)
        index: list[int] = []
        names: list[bytes] = []
        datas = []
        for i, block in enumerate(self.blocks):
            if block:
                name, data = _parse_block(block)
                index.append(i)
                names.append(name)
                datas.append(data)
        return Events(index, names, datas)


class Events(NamedTuple):
    """The events of a stream as three parallel sequences."""

    block: Sequence[int]
    """The block each event is."""
    names: list[bytes] | None
    """The `event:` fields (b"" when absent); None when every event is one `data: ` line."""
    datas: list[bytes | None]
    """The data (None for an event without data: a comment, a ping)."""


def iter_events(chunks: Sequence[bytes], times: Sequence[float]) -> Iterator[SseEvent]:
    """The SSE events of a recorded stream, in order. A last event missing its closing blank line
    is still yielded."""
    blocks = Blocks(chunks, times)
    t = blocks.times()
    ev = blocks.events()
    for k, (i, data) in enumerate(zip(ev.block, ev.datas, strict=True)):
        yield SseEvent(t[i], b"" if ev.names is None else ev.names[k], data)


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


def _scan_choices(choices: list[Any]) -> tuple[bool, str | None]:
    """Whether any choice holds an output delta (reasoning, content, tool call or completion
    text), and the last finish reason given."""
    produced = False
    finish = None
    for choice in choices:
        delta = choice.get("delta")
        if delta is not None:
            if (
                delta.get("content")
                or delta.get("reasoning_content")
                or delta.get("reasoning")
                or delta.get("tool_calls")
            ):
                produced = True
        elif choice.get("text"):
            produced = True
        finish = choice.get("finish_reason") or finish
    return produced, finish


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
        if choices and _scan_choices([c for c in choices if isinstance(c, dict)])[0]:
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
    blocks = Blocks(raw.chunks, raw.times)
    ev = blocks.events()
    names, datas = ev.names, ev.datas
    problem: str | None = None
    tokens = 0
    first = last = k = -1
    loads = orjson.loads
    for k, data in enumerate(datas):
        if data is None:
            continue
        if data == b"[DONE]":
            out.done = True
            break
        try:
            obj = loads(data)  # one event at a time, each freed before the next is decoded
        except orjson.JSONDecodeError:
            problem = f"malformed stream: event {k + 1} is not JSON: {excerpt(data, 120)}"
            break
        if not isinstance(obj, dict):
            problem = f"malformed stream: event {k + 1} is not a JSON object: {excerpt(data, 120)}"
            break
        if (names is not None and names[k] == b"error") or "error" in obj or obj.get("object") == "error":
            problem = f"error in stream: {_error_message(obj)}"
            break
        choices = obj.get("choices")
        if choices:
            produced, finish = _scan_choices(choices)
            if finish:
                out.finish_reason = finish
            if produced:
                tokens += 1
                if first < 0:
                    first = k
                last = k
        usage = obj.get("usage")
        if usage:
            out.prompt_tokens = usage.get("prompt_tokens")
            out.output_tokens = usage.get("completion_tokens")
            out.cached_tokens = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
            out.reasoning_tokens = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    out.events = k + 1
    data_events = out.events if names is None else sum(d is not None for d in datas[: out.events])
    out.client_output_tokens = tokens
    if first >= 0:
        out.t_first_token = blocks.time(ev.block[first])
        out.t_last_token = blocks.time(ev.block[last])
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
