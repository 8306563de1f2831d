"""The httpx transport of `StreamClient`, with explicit limits and timeouts (httpx's defaults cap a
client at 100 connections and 5 s timeouts)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from agentperf_tui.core.client.errors import EndpointError
from agentperf_tui.core.records import RawExchange


class _Attempt:
    __slots__ = ("fresh",)

    def __init__(self) -> None:
        self.fresh = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.started":
            self.fresh = True


def describe_error(exc: BaseException, ex: RawExchange, read_timeout: float) -> str:
    """One line naming what went wrong at the transport level and when (before or after the status)."""
    stage = "before the response" if ex.status is None else "mid-stream"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timeout: {exc}"
    if isinstance(exc, httpx.ConnectError):
        return f"connect error: {exc}"
    if isinstance(exc, httpx.PoolTimeout):
        return f"no free connection in time: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return f"read timeout {stage}: no data for {read_timeout:g} s"
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "without sending a response" in text:
            return f"server disconnected {stage}"
        return f"stream cut {stage}: {text}"
    return f"connection error {stage}: {type(exc).__name__}: {exc}"


SHARD_CONNECTIONS = 32
"""Connections per `httpx.AsyncClient`. httpcore's pool scans every connection (polling idle sockets)
on each request start and end, and worse while requests queue; with hundreds of connections in one
pool that scan starves the event loop. Shards of 32 keep it cheap."""


class _Shard:
    __slots__ = ("busy", "client")

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.busy = 0


class _ShardedPool:
    """Requests go to the first shard with a free connection slot (so keep-alive connections get
    reused), new shards open as needed, up to `max_connections` connections in all."""

    def __init__(self, max_connections: int, timeout: httpx.Timeout, keepalive: float | None) -> None:
        self._max_connections = max_connections
        self._timeout = timeout
        self._keepalive = keepalive
        """Seconds an idle connection stays reusable; None: a new connection per request."""
        self._shards: list[_Shard] = []

    def _open_shard(self) -> _Shard:
        size = min(SHARD_CONNECTIONS, self._max_connections - SHARD_CONNECTIONS * len(self._shards))
        client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=size,
                max_keepalive_connections=0 if self._keepalive is None else size,
                keepalive_expiry=self._keepalive,
            ),
            timeout=self._timeout,
            trust_env=False,
            headers={"Connection": "close"} if self._keepalive is None else None,
        )
        shard = _Shard(client)
        self._shards.append(shard)
        return shard

    def acquire(self) -> _Shard:
        for shard in self._shards:
            if shard.busy < SHARD_CONNECTIONS:
                break
        else:
            if SHARD_CONNECTIONS * len(self._shards) < self._max_connections:
                shard = self._open_shard()
            else:  # every connection busy: queue in the least loaded shard
                shard = min(self._shards, key=lambda s: s.busy)
        shard.busy += 1
        return shard

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.client.aclose()
        self._shards.clear()


class HttpxTransport:
    """HTTP/1.1 over sharded `httpx.AsyncClient`s (see `SHARD_CONNECTIONS`)."""

    def __init__(
        self, *, max_connections: int, connect_timeout: float, read_timeout: float, keepalive: float
    ) -> None:
        self._read_timeout = read_timeout
        timeout = httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=None)
        self._pooled = _ShardedPool(max_connections, timeout, keepalive)
        self._fresh = _ShardedPool(max_connections, timeout, None)

    async def exchange(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        ex: RawExchange,
        clock: Callable[[], float],
        fresh: bool,
    ) -> bool:
        """`fresh`: on a new connection, closed after the response; else from the keep-alive pool."""
        attempt = _Attempt()
        chunks = ex.chunks
        times = ex.times
        shard = (self._fresh if fresh else self._pooled).acquire()
        try:
            async with shard.client.stream(
                "POST", url, content=body, headers=headers, extensions={"trace": attempt.trace}
            ) as resp:
                ex.status = resp.status_code
                ex.retry_after = resp.headers.get("retry-after")
                encoded = resp.headers.get("content-encoding", "identity").lower() != "identity"
                async for data in resp.aiter_bytes() if encoded else resp.aiter_raw():
                    times.append(clock())
                    chunks.append(data)
        except httpx.HTTPError as exc:
            ex.error = describe_error(exc, ex, self._read_timeout)
            return (
                not attempt.fresh
                and ex.status is None
                and isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError)
            )
        finally:
            shard.busy -= 1
        return False

    async def get(self, url: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        shard = self._pooled.acquire()
        try:
            resp = await shard.client.get(url, headers=headers)
        except httpx.ConnectError as exc:
            raise EndpointError(url, "unreachable", f"cannot connect: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise EndpointError(url, "timeout", "no answer in time") from exc
        except httpx.HTTPError as exc:
            raise EndpointError(url, "unreachable", f"{type(exc).__name__}: {exc}") from exc
        finally:
            shard.busy -= 1
        return resp.status_code, resp.content

    async def aclose(self) -> None:
        await self._pooled.aclose()
        await self._fresh.aclose()
