"""A lean OpenAI-style streaming server for client benchmarks.

Every POST to a path ending in `/completions` streams `max_tokens` tokens (from the JSON body, else
`--tokens`) as chat-completion chunks: the first token `--ttft` seconds after the request arrived, then
one token every `--gap` seconds with uniform jitter of `--jitter` seconds, on an absolute schedule so
late timers never accumulate. Each token chunk carries the server's own send time (`ts`, seconds of
CLOCK_MONOTONIC, the clock `time.perf_counter()` reads on Linux) and the first one the request's
arrival time (`t_recv`), so a client on the same machine can compute its own bias exactly. The
stream ends like vLLM's: `finish_reason` in the last token chunk, a usage chunk with `choices: []`,
then `data: [DONE]`. The usage's `prompt_tokens` is the body's length over four bytes a token (an
estimate that costs nothing, so long contexts do not slow the server).

`GET /stats` returns cumulative counters (tokens sent, streams finished, the sum and count of the
open-stream samples taken every `--sample-every` seconds, a histogram of how late that sampling
timer fired and one of how late first tokens went out, the server's CPU and run-queue wait,
connections accepted, requests asking `Connection: close`, the server's read/write system calls
and bytes and its context switches); a client takes two readings and subtracts them.
`GET /v1/models` lists one model.

HTTP/1.1 is spoken directly on an asyncio protocol (uvloop when available), so the server costs
a few microseconds per token and a single core keeps up with tens of thousands of tokens/s.

    python benchmarks/mock_stream_server.py --port 8765 [--cpu 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import signal
import time
from typing import Any, cast

import orjson

_clock = time.perf_counter

_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
)
_HEAD_CLOSE = _HEAD.replace(b"keep-alive", b"close")


class Settings:
    __slots__ = ("close_after", "gap", "jitter", "tokens", "ttft")

    def __init__(self, ttft: float, gap: float, jitter: float, tokens: int, close_after: bool) -> None:
        self.ttft = ttft
        self.gap = gap
        self.jitter = jitter
        self.tokens = tokens
        self.close_after = close_after


LAG_BIN_S = 0.00025
LAG_BINS = 8000
"""Up to 2 s: a server sharing a loaded machine is late by more than 100 ms at times."""


class Counters:
    __slots__ = (
        "close_requests",
        "connections",
        "lag_hist",
        "open",
        "sample_n",
        "sample_sum",
        "streams_done",
        "tokens",
        "ttft_late_hist",
    )

    def __init__(self) -> None:
        self.connections = 0
        """Connections accepted."""
        self.close_requests = 0
        """Requests that asked for `Connection: close`."""
        self.tokens = 0
        self.streams_done = 0
        self.open = 0
        self.sample_sum = 0
        self.sample_n = 0
        self.lag_hist = [0] * LAG_BINS
        """Lateness of the sampling timer, in LAG_BIN_S bins: the server loop's own delay."""
        self.ttft_late_hist = [0] * LAG_BINS
        """How late each stream's first token went out after `--ttft` from the request's arrival,
        in LAG_BIN_S bins: what the server adds to a request's TTFT."""


def _runqueue_wait_s() -> float:
    try:
        with open("/proc/self/schedstat") as fh:
            return int(fh.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def process_io() -> dict[str, int]:
    """This process's I/O system calls and bytes (/proc/self/io: read and write calls, which is
    what an asyncio or uvloop socket uses) and its context switches."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/io") as fh:
            for line in fh:
                name, _, value = line.partition(":")
                if name in ("rchar", "wchar", "syscr", "syscw"):
                    out[name] = int(value)
    except (OSError, ValueError):
        pass
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["voluntary_switches"] = usage.ru_nvcsw
    out["involuntary_switches"] = usage.ru_nivcsw
    return out


def stream_shape(
    s0: dict[str, Any], s1: dict[str, Any], c0: dict[str, int], c1: dict[str, int]
) -> dict[str, float]:
    """How the streams travelled between two `/stats` readings (s0, s1) and two `process_io`-like
    readings of the client (c0, c1): the server's writes, bytes per write and sleeps (voluntary
    context switches) per token; the client's reads, bytes per read and sleeps per token; new
    connections and `Connection: close` requests per finished stream."""
    tokens = max(s1["tokens"] - s0["tokens"], 1)
    streams = max(s1["streams_done"] - s0["streams_done"], 1)
    writes = s1["syscw"] - s0["syscw"]
    reads = c1["syscr"] - c0["syscr"]
    return {
        "server_writes_per_token": writes / tokens,
        "server_bytes_per_write": (s1["wchar"] - s0["wchar"]) / max(writes, 1),
        "server_sleeps_per_token": (s1["voluntary_switches"] - s0["voluntary_switches"]) / tokens,
        "client_reads_per_token": reads / tokens,
        "client_bytes_per_read": (c1["rchar"] - c0["rchar"]) / max(reads, 1),
        "client_sleeps_per_token": (c1["voluntary_switches"] - c0["voluntary_switches"]) / tokens,
        "connections_per_stream": (s1["connections"] - s0["connections"]) / streams,
        "close_requests_per_stream": (s1["close_requests"] - s0["close_requests"]) / streams,
    }


def _frame(payload: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(payload), payload)


def _plain(status: str, body: bytes, close: bool) -> bytes:
    conn = b"close" if close else b"keep-alive"
    return (
        b"HTTP/1.1 %b\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: %b\r\n\r\n%b"
        % (status.encode(), len(body), conn, body)
    )


class Stream:
    """One streamed response: a chain of `call_at` timers writing token chunks."""

    __slots__ = ("conn", "handle", "n", "next_at", "sent", "t_recv", "usage")

    def __init__(self, conn: StreamProtocol, n: int, t_recv: float, prompt_tokens: int) -> None:
        self.conn = conn
        self.n = n
        self.sent = 0
        self.t_recv = t_recv
        self.next_at = 0.0
        self.handle: asyncio.TimerHandle | None = None
        self.usage = orjson.dumps(
            {
                "id": "mock",
                "object": "chat.completion.chunk",
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": n,
                    "total_tokens": prompt_tokens + n,
                },
            }
        )


class StreamProtocol(asyncio.Protocol):
    def __init__(self, settings: Settings, counters: Counters) -> None:
        self.settings = settings
        self.counters = counters
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.stream: Stream | None = None
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.counters.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.stream is not None:
            if self.stream.handle is not None:
                self.stream.handle.cancel()
            self.stream = None
            self.counters.open -= 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.stream is None and not self.closing:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
                    self.counters.close_requests += 1
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            method, path, _ = lines[0].split(" ", 2)
            self.closing = close
            self.route(method, path.split("?", 1)[0], body)

    def route(self, method: str, path: str, body: bytes) -> None:
        assert self.transport is not None
        if method == "POST" and path.endswith("/completions"):
            self.start_stream(body)
        elif method == "GET" and path == "/stats":
            c = self.counters
            times = os.times()
            payload = orjson.dumps(
                {
                    "cpu": times.user + times.system,
                    "runq_wait": _runqueue_wait_s(),
                    "now": _clock(),
                    "tokens": c.tokens,
                    "streams_done": c.streams_done,
                    "open": c.open,
                    "sample_sum": c.sample_sum,
                    "sample_n": c.sample_n,
                    "lag_bin_s": LAG_BIN_S,
                    "lag_hist": c.lag_hist,
                    "ttft_late_hist": c.ttft_late_hist,
                    "connections": c.connections,
                    "close_requests": c.close_requests,
                    **process_io(),
                }
            )
            self.respond("200 OK", payload)
        elif method == "GET" and path == "/v1/models":
            self.respond(
                "200 OK",
                orjson.dumps(
                    {
                        "object": "list",
                        "data": [
                            {"id": "mock", "object": "model", "owned_by": "mock", "max_model_len": 32768}
                        ],
                    }
                ),
            )
        else:
            self.respond("404 Not Found", orjson.dumps({"error": {"message": f"no route {method} {path}"}}))

    def respond(self, status: str, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(_plain(status, payload, self.closing))
        if self.closing or self.settings.close_after:
            self.closing = True
            self.transport.close()

    def start_stream(self, body: bytes) -> None:
        assert self.transport is not None
        t_recv = _clock()
        try:
            req = orjson.loads(body)
            n = int(req.get("max_tokens") or self.settings.tokens)
            # about four bytes a token: counting words of the decoded messages costs ten times the
            # parse on long contexts, and the server must keep up with thousands of agents
            prompt_tokens = len(body) // 4
        except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError):
            self.respond("400 Bad Request", b'{"error":{"message":"body is not a JSON object"}}')
            return
        self.transport.write(_HEAD_CLOSE if self.closing else _HEAD)
        st = Stream(self, n, t_recv, prompt_tokens)
        self.stream = st
        self.counters.open += 1
        st.next_at = self.loop.time() + self.settings.ttft
        st.handle = self.loop.call_at(st.next_at, self.send_token)

    def send_token(self) -> None:
        st = self.stream
        tr = self.transport
        if st is None or tr is None:
            return
        st.sent += 1
        last = st.sent >= st.n
        ts = _clock()
        if st.sent == 1:
            late = max(0.0, ts - st.t_recv - self.settings.ttft)
            self.counters.ttft_late_hist[min(int(late / LAG_BIN_S), LAG_BINS - 1)] += 1
            payload = (
                b'data: {"id":"mock","object":"chat.completion.chunk","choices":[{"index":0,'
                b'"delta":{"role":"assistant","content":" tok"},"finish_reason":%b}],'
                b'"ts":%.7f,"t_recv":%.7f}\n\n' % (b'"length"' if last else b"null", ts, st.t_recv)
            )
        else:
            payload = (
                b'data: {"id":"mock","object":"chat.completion.chunk","choices":[{"index":0,'
                b'"delta":{"content":" tok"},"finish_reason":%b}],"ts":%.7f}\n\n'
                % (b'"length"' if last else b"null", ts)
            )
        out = _frame(payload)
        c = self.counters
        c.tokens += 1
        if last:
            out += _frame(b"data: " + st.usage + b"\n\ndata: [DONE]\n\n") + b"0\r\n\r\n"
            tr.write(out)
            self.stream = None
            c.open -= 1
            c.streams_done += 1
            if self.closing or self.settings.close_after:
                self.closing = True
                tr.close()
            elif self.buf:
                self.data_received(b"")
            return
        tr.write(out)
        s = self.settings
        st.next_at += s.gap + (random.uniform(-s.jitter, s.jitter) if s.jitter else 0.0)
        st.handle = self.loop.call_at(st.next_at, self.send_token)


async def serve(host: str, port: int, settings: Settings, sample_every: float) -> None:
    loop = asyncio.get_running_loop()
    counters = Counters()
    server = await loop.create_server(
        lambda: StreamProtocol(settings, counters), host, port, backlog=4096, reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"listening http://{host}:{port}", flush=True)

    async def sample() -> None:
        while True:
            due = _clock() + sample_every
            await asyncio.sleep(sample_every)
            counters.sample_sum += counters.open
            counters.sample_n += 1
            lag = max(0.0, _clock() - due)
            counters.lag_hist[min(int(lag / LAG_BIN_S), LAG_BINS - 1)] += 1

    sampler = asyncio.create_task(sample())
    await stop.wait()
    sampler.cancel()
    server.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--ttft", type=float, default=0.100, help="seconds from request to first token")
    p.add_argument("--gap", type=float, default=0.020, help="seconds between tokens")
    p.add_argument("--jitter", type=float, default=0.002, help="uniform jitter on each gap, seconds")
    p.add_argument("--tokens", type=int, default=128, help="tokens per stream when max_tokens is absent")
    p.add_argument("--sample-every", type=float, default=0.010, help="open-stream sampling period, s")
    p.add_argument(
        "--close-after-response",
        action="store_true",
        help="close every connection after its response while advertising keep-alive",
    )
    p.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    p.add_argument("--no-uvloop", action="store_true")
    a = p.parse_args()
    if a.cpu is not None:
        os.sched_setaffinity(0, {a.cpu})
    settings = Settings(a.ttft, a.gap, a.jitter, a.tokens, a.close_after_response)
    coro = serve(a.host, a.port, settings, a.sample_every)
    if a.no_uvloop:
        asyncio.run(coro)
    else:
        import uvloop

        uvloop.run(coro)


if __name__ == "__main__":
    main()
