"""`StreamClient`: POST a request and record the streamed reply as bytes and timestamps, nothing more.

The stream loop is the hot path of a run: per received network chunk it appends the bytes and one
clock reading. Parsing (`sse.parse_stream`) happens afterwards, off the loop. Transport failures
(connect error, reset, timeout) are recorded in `RawExchange.error`, never raised.

Reused keep-alive connections: some servers (llama.cpp's) close the connection after each streamed
response while advertising keep-alive, and every server closes connections idle for a while. A
request that fails on a reused connection before any response byte arrived was never processed,
so it is retried once on a fresh connection (RFC 9112 §9.3.1). When such failures are frequent
(the server closes every connection), the client stops reusing connections to that server (a new
connection per request, `Connection: close`), so later requests pay no failed attempt. Idle
connections are dropped after `KEEPALIVE_S`. `stats` counts requests and retries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson

from agentperf_tui.core.client.errors import EndpointError, excerpt
from agentperf_tui.core.endpoint import normalise_base_url
from agentperf_tui.core.records import RawExchange

Backend = Literal["httptools", "aiohttp", "httpx"]
"""Transports behind the same interface. "httptools": lean HTTP/1.1 protocol timestamping chunks
as they arrive (httptools_transport.py); "aiohttp" and "httpx": the libraries' own clients, at two
to four times the CPU per streamed token and a larger tail delay (benchmarks/client_bench.py)."""
DEFAULT_BACKEND: Backend = "httptools"

REUSE_FAILURES_BEFORE_CLOSE = 3
"""Failed reuses of keep-alive connections after which the client may stop reusing connections..."""
REUSE_FAILURE_SHARE_BEFORE_CLOSE = 0.05
"""...provided they are also this share of all requests (a server that closes every connection,
not the rare race with a server's idle timeout)."""
KEEPALIVE_S = 4.0
"""An idle connection is not reused after this long: below the idle timeouts servers use (uvicorn's,
hence vLLM's, is 5 s), so the client drops a connection before the server closes it under it."""


class Transport(Protocol):
    async def exchange(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        ex: RawExchange,
        clock: Callable[[], float],
        fresh: bool,
    ) -> bool:
        """Fill `ex` (status, chunks, times, error), on a new connection closed afterwards when
        `fresh`, else from the keep-alive pool. True when it failed on a reused connection before
        any response byte, so that sending it again is safe."""
        ...

    async def get(self, url: str, headers: Mapping[str, str]) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class ClientStats:
    requests: int = 0
    reuse_retries: int = 0
    """Requests sent again because a reused connection had been closed by the server."""
    closes_connections: bool = False
    """True once the client stopped reusing connections (the server closes them after each reply)."""


def make_transport(
    backend: Backend, *, max_connections: int, connect_timeout: float, read_timeout: float
) -> Transport:
    if backend == "aiohttp":
        from agentperf_tui.core.client.aiohttp_transport import AiohttpTransport

        return AiohttpTransport(
            max_connections=max_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            keepalive=KEEPALIVE_S,
        )
    if backend == "httptools":
        from agentperf_tui.core.client.httptools_transport import HttptoolsTransport

        return HttptoolsTransport(
            max_connections=max_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            keepalive=KEEPALIVE_S,
        )
    if backend == "httpx":
        from agentperf_tui.core.client.httpx_transport import HttpxTransport

        return HttpxTransport(
            max_connections=max_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            keepalive=KEEPALIVE_S,
        )
    raise ValueError(f"unknown client backend {backend!r}: use 'httptools', 'aiohttp' or 'httpx'")


class StreamClient:
    """A pooled HTTP/1.1 client for one OpenAI-compatible server.

    `max_connections` bounds open connections (size it above the number of agents: a request
    waiting for a free connection is late without the stream loop knowing). `connect_timeout`
    bounds connecting; `read_timeout` bounds the silence between two received chunks, not the
    whole response. Use it from one event loop; `aclose()` when done.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        max_connections: int = 4096,
        connect_timeout: float = 10.0,
        read_timeout: float = 600.0,
        backend: Backend = DEFAULT_BACKEND,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("connect_timeout and read_timeout must be positive seconds")
        self.base_url = normalise_base_url(base_url)
        self.backend = backend
        auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._post_headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "Accept-Encoding": "identity",
            **auth,
        }
        self._get_headers = {"Accept": "application/json", **auth}
        self.stats = ClientStats()
        self._transport = make_transport(
            backend,
            max_connections=max_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )

    async def stream(
        self,
        path: str,
        body: bytes,
        t_intended: float,
        clock: Callable[[], float],
        *,
        into: RawExchange | None = None,
    ) -> RawExchange:
        """POST `body` (serialised JSON) to base_url + path and record the reply.

        `into`: record into this exchange (its `t_intended` is kept), so that a caller can watch
        the request while it is in flight (e.g. whether a first chunk has arrived).
        """
        ex = into if into is not None else RawExchange(t_intended=t_intended)
        url = self.base_url + path
        stats = self.stats
        stats.requests += 1
        ex.t_sent = clock()
        if await self._transport.exchange(url, body, self._post_headers, ex, clock, stats.closes_connections):
            stats.reuse_retries += 1
            if (
                stats.reuse_retries >= REUSE_FAILURES_BEFORE_CLOSE
                and stats.reuse_retries >= REUSE_FAILURE_SHARE_BEFORE_CLOSE * stats.requests
            ):
                stats.closes_connections = True
            ex.error = None
            await self._transport.exchange(url, body, self._post_headers, ex, clock, fresh=True)
        ex.t_end = clock()
        return ex

    async def get_json(self, path: str) -> Any:
        """GET base_url + path and decode the JSON body; raises `EndpointError`."""
        url = self.base_url + path
        status, body = await self._transport.get(url, self._get_headers)
        if status >= 400:
            raise EndpointError(url, "http", excerpt(body) or "(empty body)", status=status)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise EndpointError(url, "invalid", f"not JSON: {excerpt(body) or '(empty body)'}") from exc

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> StreamClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
