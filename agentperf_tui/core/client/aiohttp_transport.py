"""The aiohttp transport of `StreamClient`: the fastest stream loop measured (benchmarks/client_bench.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp

from agentperf_tui.core.client.errors import EndpointError
from agentperf_tui.core.records import RawExchange


class _Attempt:
    __slots__ = ("reused",)

    def __init__(self) -> None:
        self.reused = False


async def _on_reuse(
    session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceConnectionReuseconnParams
) -> None:
    attempt = ctx.trace_request_ctx
    if isinstance(attempt, _Attempt):
        attempt.reused = True


def describe_error(exc: BaseException, ex: RawExchange, read_timeout: float) -> str:
    """One line naming what went wrong at the transport level and when (before or after the status)."""
    stage = "before the response" if ex.status is None else "mid-stream"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return f"connect timeout: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connect error: {exc}"
    if isinstance(exc, TimeoutError):
        return f"read timeout {stage}: no data for {read_timeout:g} s"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"server disconnected {stage}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"stream cut {stage}: {exc}"
    if isinstance(exc, aiohttp.ClientOSError | OSError):
        return f"connection error {stage}: {exc}"
    return f"{type(exc).__name__} {stage}: {exc}"


class AiohttpTransport:
    """HTTP/1.1 over an `aiohttp.ClientSession`, created lazily on the loop that first uses it."""

    def __init__(
        self, *, max_connections: int, connect_timeout: float, read_timeout: float, keepalive: float
    ) -> None:
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._keepalive = keepalive
        self._pooled: aiohttp.ClientSession | None = None
        self._fresh: aiohttp.ClientSession | None = None

    def _session(self, fresh: bool) -> aiohttp.ClientSession:
        """The keep-alive pool, or (fresh) a session that opens a new connection per request."""
        session = self._fresh if fresh else self._pooled
        if session is not None:
            return session
        trace = aiohttp.TraceConfig()
        trace.on_connection_reuseconn.append(_on_reuse)
        reuse: dict[str, Any] = {"force_close": True} if fresh else {"keepalive_timeout": self._keepalive}
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=0, ttl_dns_cache=300, **reuse
        )
        timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=self._connect_timeout, sock_read=self._read_timeout
        )
        session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, trace_configs=[trace], raise_for_status=False
        )
        if fresh:
            self._fresh = session
        else:
            self._pooled = session
        return session

    async def exchange(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        ex: RawExchange,
        clock: Callable[[], float],
        fresh: bool,
    ) -> bool:
        session = self._session(fresh)
        attempt = _Attempt()
        chunks = ex.chunks
        times = ex.times
        try:
            async with session.post(url, data=body, headers=headers, trace_request_ctx=attempt) as resp:
                ex.status = resp.status
                ex.retry_after = resp.headers.get("Retry-After")
                read = resp.content.readany
                while True:
                    data = await read()
                    if not data:
                        break
                    times.append(clock())
                    chunks.append(data)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            ex.error = describe_error(exc, ex, self._read_timeout)
            return (
                attempt.reused
                and ex.status is None
                and isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError)
                and not isinstance(exc, aiohttp.ClientConnectorError)
            )
        return False

    async def get(self, url: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        try:
            async with self._session(False).get(url, headers=headers) as resp:
                return resp.status, await resp.read()
        except aiohttp.ClientConnectorError as exc:
            raise EndpointError(url, "unreachable", f"cannot connect: {exc.os_error}") from exc
        except TimeoutError as exc:
            raise EndpointError(url, "timeout", "no answer in time") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise EndpointError(url, "unreachable", f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        for session in (self._pooled, self._fresh):
            if session is not None:
                await session.close()
        self._pooled = self._fresh = None
