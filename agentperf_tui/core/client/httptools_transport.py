"""The lean transport of `StreamClient`: HTTP/1.1 on asyncio protocols, parsed by httptools
(llhttp), with no future, task switch or timer per chunk. See docs/client.md.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httptools

from agentperf_tui.core.client.errors import EndpointError
from agentperf_tui.core.records import RawExchange

USER_AGENT = "agentperf-tui"


class _Origin:
    """Where a URL points, and the pool of connections to it."""

    __slots__ = ("host", "host_header", "idle", "port", "ssl")

    def __init__(self, scheme: str, host: str, port: int, ssl_context: ssl.SSLContext | None) -> None:
        self.host = host
        self.port = port
        self.ssl = ssl_context
        default = 443 if scheme == "https" else 80
        name = f"[{host}]" if ":" in host else host
        self.host_header = name if port == default else f"{name}:{port}"
        self.idle: deque[_Connection] = deque()


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection carrying one request at a time."""

    __slots__ = (
        "add_chunk",
        "add_time",
        "clock",
        "closed",
        "decoder",
        "done",
        "ex",
        "framed",
        "headers_done",
        "idle_since",
        "keep_alive",
        "open",
        "origin",
        "parser",
        "received",
        "t_rx",
        "timeout_error",
        "transport",
    )

    def __init__(self, origin: _Origin) -> None:
        self.origin = origin
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        # the current exchange
        self.ex: RawExchange | None = None
        self.clock: Callable[[], float] = _never
        self.done: asyncio.Future[str | None] | None = None
        self.open = False
        """An exchange is under way (started, not finished)."""
        self.add_chunk: Callable[[bytes], None] = _drop
        self.add_time: Callable[[float], None] = _drop
        """The current exchange's `chunks.append`, `times.append`."""
        self.t_rx = 0.0
        self.received = False
        self.headers_done = False
        self.framed = False
        self.keep_alive = False
        self.decoder: zlib._Decompress | None = None
        self.timeout_error: str | None = None

    # -------------------------------------------------------------- asyncio protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.open:  # bytes outside a response: the server is out of step
            self.close()
            return
        self.t_rx = self.clock()
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.finish(f"bad HTTP response: {exc}")
            self.close()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        if not self.open:
            return
        if self.timeout_error is not None:
            self.finish(self.timeout_error)
        elif self.headers_done and not self.framed and exc is None:
            self.finish(None)  # a close-delimited body ends with the connection
        else:
            stage = "mid-stream" if self.headers_done else "before the response"
            if exc is None:
                self.finish(f"server disconnected {stage}")
            else:
                self.finish(f"connection error {stage}: {exc}")

    # -------------------------------------------------------------- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.lower()
        if key in (b"content-length", b"transfer-encoding"):
            self.framed = True
        elif key == b"retry-after" and self.ex is not None:
            self.ex.retry_after = value.decode("latin-1").strip()
        elif key == b"content-encoding":
            encoding = value.strip().lower()
            if encoding in (b"gzip", b"x-gzip"):
                self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            elif encoding == b"deflate":
                self.decoder = zlib.decompressobj()

    def on_headers_complete(self) -> None:
        assert self.ex is not None
        self.ex.status = self.parser.get_status_code()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if self.decoder is not None:
            body = self.decoder.decompress(body)
            if not body:
                return
        self.add_time(self.t_rx)
        self.add_chunk(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        self.finish(None)

    # -------------------------------------------------------------- driving
    def start(self, ex: RawExchange, clock: Callable[[], float], head: bytes, body: bytes) -> None:
        self.ex = ex
        self.clock = clock
        self.add_chunk = ex.chunks.append
        self.add_time = ex.times.append
        self.done = asyncio.get_running_loop().create_future()
        self.open = True
        self.t_rx = clock()
        self.received = self.headers_done = self.framed = self.keep_alive = False
        self.decoder = None
        self.timeout_error = None
        if self.transport is None:
            self.finish("server disconnected before the response")
        else:
            self.transport.write(head + body if body else head)

    def finish(self, error: str | None) -> None:
        self.open = False
        if self.done is not None and not self.done.done():
            self.done.set_result(error)

    def expire(self, error: str) -> None:
        """The read timeout hit: fail the exchange and drop the connection."""
        self.timeout_error = error
        self.finish(error)
        self.close()

    def reset(self) -> None:
        self.ex = None
        self.done = None
        self.open = False
        self.clock = _never
        self.add_chunk = self.add_time = _drop

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _never() -> float:
    return 0.0


def _drop(_item: object) -> None:
    pass


class HttptoolsTransport:
    def __init__(
        self, *, max_connections: int, connect_timeout: float, read_timeout: float, keepalive: float
    ) -> None:
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._keepalive = keepalive
        self._origins: dict[tuple[str, str, int], _Origin] = {}
        self._heads: dict[tuple[str, str, bool, tuple[tuple[str, str], ...]], tuple[_Origin, bytes]] = {}
        self._ssl: ssl.SSLContext | None = None
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._active: set[_Connection] = set()
        self._sweeper: asyncio.TimerHandle | None = None

    # -------------------------------------------------------------- requests
    def _prepare(
        self, method: str, url: str, headers: Mapping[str, str], fresh: bool
    ) -> tuple[_Origin, bytes]:
        key = (method, url, fresh, tuple(headers.items()))
        cached = self._heads.get(key)
        if cached is not None:
            return cached
        parts = urlsplit(url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        origin = self._origins.get((scheme, host, port))
        if origin is None:
            if scheme == "https" and self._ssl is None:
                self._ssl = ssl.create_default_context()
            origin = _Origin(scheme, host, port, self._ssl if scheme == "https" else None)
            self._origins[(scheme, host, port)] = origin
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {origin.host_header}", f"User-Agent: {USER_AGENT}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if fresh:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        if len(self._heads) > 256:
            self._heads.clear()
        self._heads[key] = (origin, head)
        return origin, head

    async def _acquire(self, origin: _Origin, fresh: bool) -> tuple[_Connection, bool]:
        """A connection to `origin` and whether it was reused; raises OSError/TimeoutError."""
        loop = asyncio.get_running_loop()
        while True:
            if not fresh:
                idle = origin.idle
                now = loop.time()
                while idle:
                    conn = idle.pop()
                    if not conn.closed and now - conn.idle_since <= self._keepalive:
                        return conn, True
                    self._discard(conn)
            if self._open < self._max_connections or self._close_one_idle():
                break
            waiter = loop.create_future()  # every connection busy: wait for one to come back
            self._waiters.append(waiter)
            await waiter
        self._open += 1
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(origin),
                    origin.host,
                    origin.port,
                    ssl=origin.ssl,
                    server_hostname=origin.host if origin.ssl else None,
                )
        except BaseException:
            self._open -= 1
            self._wake()
            raise
        return conn, False

    def _close_one_idle(self) -> bool:
        for origin in self._origins.values():
            if origin.idle:
                self._discard(origin.idle.popleft())
                return True
        return False

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, conn: _Connection, reusable: bool) -> None:
        self._active.discard(conn)
        conn.reset()
        if reusable and not conn.closed:
            conn.idle_since = asyncio.get_running_loop().time()
            conn.origin.idle.append(conn)
            self._wake()
        else:
            self._discard(conn)

    def _sweep(self) -> None:
        """Fail the active exchanges that received nothing for `read_timeout` seconds."""
        self._sweeper = None
        for conn in list(self._active):
            if conn.clock() - conn.t_rx > self._read_timeout:
                stage = "mid-stream" if conn.headers_done else "before the response"
                conn.expire(f"read timeout {stage}: no data for {self._read_timeout:g} s")
        self._arm_sweeper()

    def _arm_sweeper(self) -> None:
        if self._sweeper is None and self._active:
            period = min(1.0, self._read_timeout / 4)
            self._sweeper = asyncio.get_running_loop().call_later(period, self._sweep)

    async def _run(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        ex: RawExchange,
        clock: Callable[[], float],
        fresh: bool,
    ) -> bool:
        origin, head = self._prepare(method, url, headers, fresh)
        head += b"Content-Length: %d\r\n\r\n" % len(body) if body or method == "POST" else b"\r\n"
        try:
            conn, reused = await self._acquire(origin, fresh)
        except TimeoutError:
            ex.error = (
                f"connect timeout: no connection to {origin.host_header} in {self._connect_timeout:g} s"
            )
            return False
        except OSError as exc:
            ex.error = f"connect error: {origin.host_header}: {exc}"
            return False
        conn.start(ex, clock, head, body)
        self._active.add(conn)
        self._arm_sweeper()
        done = conn.done
        assert done is not None
        try:
            error = await done
        except BaseException:  # cancelled: the connection's state is unknown
            conn.close()
            self._release(conn, False)
            raise
        received = conn.received
        self._release(conn, error is None and conn.keep_alive and not fresh)
        if error is not None:
            ex.error = error
            return reused and not received and ex.status is None and "timeout" not in error
        return False

    async def exchange(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        ex: RawExchange,
        clock: Callable[[], float],
        fresh: bool,
    ) -> bool:
        return await self._run("POST", url, headers, body, ex, clock, fresh)

    async def get(self, url: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        ex = RawExchange(t_intended=loop.time())
        await self._run("GET", url, headers, b"", ex, loop.time, False)
        if ex.error is not None:
            if ex.error.startswith("connect error"):
                raise EndpointError(url, "unreachable", f"cannot connect: {ex.error}")
            if "timeout" in ex.error:
                raise EndpointError(url, "timeout", ex.error)
            raise EndpointError(url, "unreachable", ex.error)
        assert ex.status is not None
        return ex.status, b"".join(ex.chunks)

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._active):
            conn.expire("client closed")
        for origin in self._origins.values():
            while origin.idle:
                self._discard(origin.idle.pop())
        await asyncio.sleep(0)
