"""A fault-injecting OpenAI-compatible streaming server on 127.0.0.1, for the fault suite.

Two ports. The API port serves what a benchmark client talks to, in vLLM's stream shape:
POST /v1/chat/completions and /v1/completions (streaming only), GET /v1/models (one model with
max_model_len), GET /health; nothing else (/metrics and /tokenize answer 404). The control port
serves GET /_stats (`FaultStats` as JSON), GET /_fault and POST /_fault {"mode": ..., "params": {...}}
(see `Fault`); it stays up while the API port refuses connections.

An honest reply holds exactly max_tokens tokens when the request sends ignore_eos, at least
min_tokens when it sends min_tokens, and otherwise stops early at `natural_share` of max_tokens
(finish_reason "stop"), as a model that meets its end-of-sequence token would; so the client's
exact-length probe sees a server that honours both fields. Tokens are paced per stream:
the first `ttft_s` after the request arrived, then `tokens_per_s` (None: as fast as possible).

In-process, in a thread of its own (the `fault_server` fixture does this):

    with FaultServer(Fault(mode="reset", after=4, at_token=5)) as server:
        ... requests to server.url ...
        server.set_fault("stall_before_first", stall_s=2.0)
        stats = server.wait_settled()

Standalone (prints one JSON line with url, port, control_url, control_port and pid, then serves
until SIGTERM or SIGINT, and prints the final `/_stats` JSON on one line before it exits):

    python -m tests.faults.fault_server --port 0 --mode reset --param at_token=5 --param after=4
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import math
import os
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentperf_tui.core.client.probe import PROBE_MESSAGES
from agentperf_tui.core.event_loop import new_event_loop
from agentperf_tui.core.simulator.server import BadRequest, error_response

from .fault_ledger import FaultStats, Ledger, RequestRecord, wait_settled
from .fault_modes import AT_TOKEN_MODES, MODES, Fault, FaultPlan

__all__ = ["MODES", "Fault", "FaultServer", "FaultStats", "RequestRecord"]

HOST = "127.0.0.1"
DEFAULT_MODEL = "fault-model"
MALFORMED_EVENT = b'data: {"choices": [{"delta": {"content": "x"}, not json\n\n'

T = TypeVar("T")


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    include_usage: bool = False


class _Body(BaseModel):
    """The request fields the server reads; others are accepted and ignored."""

    model_config = ConfigDict(extra="allow", strict=True)
    model: str | None = None
    messages: list[dict[str, Any]] | None = None
    prompt: str | list[int] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    min_tokens: int | None = Field(default=None, ge=0)
    ignore_eos: bool | None = None
    stream: bool = False
    stream_options: _StreamOptions | None = None


@dataclass(frozen=True, slots=True)
class _Ask:
    """A valid completion request, as the server reads it."""

    chat: bool
    max_tokens: int
    asked_max_tokens: int | None
    min_tokens: int | None
    ignore_eos: bool
    include_usage: bool
    prompt_tokens: int
    probe: bool
    calibration: bool


def _text_chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(p["text"]) for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return 0


def _abort(transport: asyncio.Transport | None) -> None:
    """Close a connection abruptly: RST, not FIN."""
    if transport is None or transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _json(obj: Any) -> web.Response:
    return web.Response(body=orjson.dumps(obj), content_type="application/json")


async def _forever() -> None:
    await asyncio.get_running_loop().create_future()


class FaultServer:
    """The server, its fault in force and its accounting (`stats()`).

    Thread mode: `start()` / `stop()` (or `with`), then `set_fault`, `stats`, `wait_settled` from
    any thread but the server's own. On a running loop instead: `await astart()` / `astop()` and
    `aset_fault`; `stats()` works in both.
    """

    def __init__(
        self,
        fault: Fault | None = None,
        *,
        tokens_per_s: float | None = 200.0,
        ttft_s: float = 0.0,
        natural_share: float = 0.5,
        model: str = DEFAULT_MODEL,
        max_model_len: int = 32768,
        default_max_tokens: int = 256,
        port: int = 0,
        control_port: int = 0,
        api_key: str | None = None,
    ) -> None:
        if tokens_per_s is not None and tokens_per_s <= 0:
            raise ValueError(f"tokens_per_s must be positive (or None: unpaced), got {tokens_per_s}")
        if ttft_s < 0:
            raise ValueError(f"ttft_s must be at least 0, got {ttft_s}")
        if not 0 < natural_share <= 1:
            raise ValueError(f"natural_share must be in (0, 1], got {natural_share}")
        self.tokens_per_s = tokens_per_s
        self.ttft_s = ttft_s
        self.natural_share = natural_share
        self.model = model
        self.max_model_len = max_model_len
        self.default_max_tokens = default_max_tokens
        self.port = port
        """The API port (the bound one once started; kept across refuse and listening again)."""
        self.control_port = control_port
        self.api_key = api_key
        """When set, the API answers 401 to a request without `Authorization: Bearer <api_key>`."""
        self.ledger = Ledger()
        self._plan = FaultPlan(fault or Fault())
        self._created = int(time.time())
        self._api: web.AppRunner | None = None
        self._control: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._relisten: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- what tests read ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API base URL (what `--endpoint` takes)."""
        return f"http://{HOST}:{self.port}"

    @property
    def control_url(self) -> str:
        return f"http://{HOST}:{self.control_port}"

    @property
    def fault(self) -> Fault:
        """The fault in force."""
        return self._plan.fault

    @property
    def listening(self) -> bool:
        """The API port accepts connections (False while refusing)."""
        return self._site is not None

    def stats(self) -> FaultStats:
        """A consistent snapshot of the accounting (any thread)."""
        return self.ledger.snapshot()

    def wait_settled(self, timeout: float = 5.0) -> FaultStats:
        """Wait until no request is open; the stats then (see `fault_ledger.wait_settled`)."""
        return wait_settled(self.stats, timeout)

    # -- lifecycle ------------------------------------------------------------------------------

    async def astart(self) -> None:
        """Listen on both ports, on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._api = web.AppRunner(
            self._api_app(), access_log=None, handle_signals=False, handler_cancellation=True,
            shutdown_timeout=0.2,
        )
        await self._api.setup()
        self._control = web.AppRunner(self._control_app(), access_log=None, handle_signals=False)
        await self._control.setup()
        control = web.TCPSite(self._control, HOST, self.control_port)
        await control.start()
        self.control_port = int(self._control.addresses[0][1])
        if self._plan.fault.mode == "refuse" and self._plan.fault.after == 0:
            # refusing from the start: bind once so that the port is known and stays ours
            await self._listen()
            await self._refuse(self._plan.fault.for_s)
        else:
            await self._listen()

    async def astop(self) -> None:
        """Stop serving: open requests end as "server_stopped"."""
        self._stopping = True
        self._cancel_relisten()
        self.ledger.end_open("server_stopped")
        if self._api is not None:
            for handler in self._api.server.connections if self._api.server else ():
                _abort(handler.transport)
            await self._api.cleanup()
            self._site = None
        if self._control is not None:
            await self._control.cleanup()
        for task in list(self._tasks):
            task.cancel()

    def start(self) -> FaultServer:
        """Serve from a thread of its own; returns once both ports listen."""
        if self._thread is not None:
            raise RuntimeError("the fault server is already started")
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            loop = new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.astart())
            except BaseException as exc:
                ready.set_exception(exc)
                loop.close()
                return
            ready.set_result(None)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.astop())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"fault-server-{id(self):x}", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=10)
        except BaseException:
            self._thread.join(timeout=10)
            self._thread = None
            raise
        return self

    def stop(self) -> None:
        """Stop the thread started by `start()` (idempotent)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- switching faults -----------------------------------------------------------------------

    def set_fault(self, fault: Fault | str = "ok", **params: Any) -> Fault:
        """Put a fault in force from another thread: `set_fault("reset", at_token=2, after=1)` or
        `set_fault(Fault(...))`. Its `after` and `fraction` count from now."""
        if isinstance(fault, str):
            fault = Fault.parse({"mode": fault, "params": params})
        elif params:
            raise TypeError("give either a Fault or a mode name with parameters")
        return self._call(self.aset_fault(fault))

    async def aset_fault(self, fault: Fault) -> Fault:
        """`set_fault` on the server's loop."""
        self._cancel_relisten()
        self._plan = FaultPlan(fault)
        if fault.mode == "refuse" and fault.after == 0:
            await self._refuse(fault.for_s)
        elif self._site is None:
            await self._listen()
        return fault

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            coro.close()
            raise RuntimeError("the fault server is not running in a thread: start() it, or await aset_fault")
        if threading.current_thread() is thread:
            coro.close()
            raise RuntimeError("called on the fault server's own loop: await aset_fault instead")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)

    async def _listen(self) -> None:
        assert self._api is not None
        site = web.TCPSite(self._api, HOST, self.port)
        await site.start()
        self._site = site
        self.port = int(self._api.addresses[0][1])

    async def _refuse(self, for_s: float | None) -> None:
        """Stop listening, drop every API connection (open requests end as "refuse"); listen
        again after `for_s` seconds with the fault set back to "ok"."""
        self._cancel_relisten()
        site, self._site = self._site, None
        if site is not None:
            await site.stop()
        assert self._api is not None and self._api.server is not None
        for handler in self._api.server.connections:
            _abort(handler.transport)
        self.ledger.end_open("refuse")
        if for_s is not None:
            loop = asyncio.get_running_loop()
            self._relisten = loop.call_later(for_s, self._spawn_relisten)

    def _spawn_relisten(self) -> None:
        self._relisten = None
        task = asyncio.get_running_loop().create_task(self.aset_fault(Fault()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_relisten(self) -> None:
        if self._relisten is not None:
            self._relisten.cancel()
            self._relisten = None

    # -- the API --------------------------------------------------------------------------------

    def _api_app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        return app

    def _refused(self, request: web.Request) -> web.Response | None:
        """The 401 an OpenAI-compatible server sends for a missing or wrong API key (None: allowed)."""
        if self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return error_response(401, "Incorrect API key provided", "AuthenticationError")

    async def _models(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        entry = {"id": self.model, "object": "model", "created": self._created,
                 "owned_by": "agentperf-faults", "root": self.model, "parent": None,
                 "max_model_len": self.max_model_len}
        return _json({"object": "list", "data": [entry]})

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, chat=True)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, chat=False)

    def _read(self, raw: bytes, chat: bool) -> _Ask:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise BadRequest("request body must be a JSON object")
        try:
            body = _Body.model_validate(obj)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise BadRequest(f"'{where}': {err['msg']}", where) from exc
        if body.model is not None and body.model != self.model:
            raise BadRequest(f"The model `{body.model}` does not exist. This server serves `{self.model}`.",
                             "model", 404, "NotFoundError")
        if not body.stream:
            raise BadRequest("this test server only streams: send \"stream\": true", "stream")
        if chat:
            if not body.messages:
                raise BadRequest("'messages' must be a non-empty list", "messages")
            chars = sum(_text_chars(m.get("content")) for m in body.messages)
            probe = body.messages == PROBE_MESSAGES
        else:
            if body.prompt is None or body.prompt == "" or body.prompt == []:
                raise BadRequest("'prompt' must be a non-empty string or list of token ids", "prompt")
            chars = len(body.prompt) * 4 if isinstance(body.prompt, list) else len(body.prompt)
            probe = False
        asked = body.max_completion_tokens or body.max_tokens
        max_tokens = asked or self.default_max_tokens
        if body.min_tokens is not None and body.min_tokens > max_tokens:
            raise BadRequest(f"min_tokens ({body.min_tokens}) must not exceed max_tokens ({max_tokens})",
                             "min_tokens")
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        calibration = asked == 1 and body.ignore_eos is None and body.min_tokens is None
        return _Ask(chat, max_tokens, asked, body.min_tokens, bool(body.ignore_eos), include_usage,
                    max(1, chars // 4), probe, calibration)

    def _honest_tokens(self, ask: _Ask) -> int:
        if ask.ignore_eos:
            return ask.max_tokens
        natural = max(1, math.floor(ask.max_tokens * self.natural_share))
        return min(ask.max_tokens, max(natural, ask.min_tokens or 0))

    async def _serve(self, request: web.Request, *, chat: bool) -> web.StreamResponse:
        raw = await request.read()
        if (refused := self._refused(request)) is not None:
            rec = self.ledger.open(path=request.path, max_tokens=None, min_tokens=None, ignore_eos=False,
                                   probe=False, calibration=False, fault="ok", status=401)
            self.ledger.end(rec, "bad_request")
            return refused
        try:
            ask = self._read(raw, chat)
        except BadRequest as exc:
            rec = self.ledger.open(path=request.path, max_tokens=None, min_tokens=None, ignore_eos=False,
                                   probe=False, calibration=False, fault="ok", status=exc.status)
            self.ledger.end(rec, "bad_request")
            return error_response(exc.status, str(exc), exc.kind, exc.param)
        fault = self._plan.fault if self._plan.strikes(ask.probe or ask.calibration) else Fault()
        planned = self._honest_tokens(ask)
        if fault.mode == "short":
            planned = min(planned, max(1, math.floor(ask.max_tokens * fault.short_share)))
        rec = self.ledger.open(path=request.path, max_tokens=ask.asked_max_tokens, min_tokens=ask.min_tokens,
                               ignore_eos=ask.ignore_eos, probe=ask.probe, calibration=ask.calibration,
                               fault=fault.mode,
                               prompt_tokens=ask.prompt_tokens, tokens_planned=planned)
        try:
            return await self._reply(request, rec, ask, fault, planned)
        except asyncio.CancelledError:
            self.ledger.end(rec, "server_stopped" if self._stopping else "client_closed")
            raise
        except ConnectionError:
            # the client hung up mid-write; aiohttp drops whatever is returned on a closed connection
            self.ledger.end(rec, "server_stopped" if self._stopping else "client_closed")
            return web.StreamResponse()

    async def _reply(self, request: web.Request, rec: RequestRecord, ask: _Ask, fault: Fault,
                     planned: int) -> web.StreamResponse:
        mode = fault.mode
        if mode == "http_500":
            self.ledger.update(rec, status=500)
            self.ledger.end(rec, "http_500")
            return error_response(500, "injected fault: the engine failed", "InternalServerError")
        if mode == "http_429":
            limited = error_response(429, "injected fault: too many requests, retry later", "RateLimitError")
            limited.headers["Retry-After"] = str(fault.retry_after_s)
            self.ledger.update(rec, status=429)
            self.ledger.end(rec, "http_429")
            return limited
        if mode == "refuse":
            await self._refuse(fault.for_s)  # ends this request too, and drops its connection
            await _forever()
        loop = asyncio.get_running_loop()
        t_arrived = loop.time()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        self.ledger.update(rec, status=200)
        chunks = _Chunks(self.model, self._created, ask.chat)
        finish = "length" if planned == ask.max_tokens else "stop"
        if mode == "slow_drip":
            gap = fault.drip_s
        else:
            gap = 0.0 if self.tokens_per_s is None else 1.0 / self.tokens_per_s
        due = t_arrived + self.ttft_s
        if mode == "stall_before_first":
            await self._stall(fault.stall_s)
            due = loop.time()
        strike = min(fault.at_token, planned) if mode in AT_TOKEN_MODES else -1
        for i in range(planned + 1):
            if i == strike:
                if mode == "reset":
                    self.ledger.end(rec, "reset")
                    _abort(request.transport)
                    await _forever()
                if mode == "truncated":
                    self.ledger.end(rec, "truncated")
                    await resp.write_eof()
                    return resp
                if mode == "malformed":
                    await resp.write(MALFORMED_EVENT)
                    self.ledger.end(rec, "malformed")
                if mode == "stall_after_first":
                    await self._stall(fault.stall_s)
                    due = loop.time()
            if i == planned:
                break
            await asyncio.sleep(max(0.0, due - loop.time()))  # yields even when unpaced or behind
            head = chunks.role() if i == 0 else b""
            await resp.write(head + chunks.token(i, finish if i == planned - 1 else None))
            self.ledger.sent(rec)
            due += gap
        tail = b""
        if ask.include_usage:
            tail = chunks.usage(ask.prompt_tokens, planned)
            self.ledger.update(rec, completion_tokens=planned)
        await resp.write(tail + b"data: [DONE]\n\n")
        await resp.write_eof()
        self.ledger.end(rec, "completed")
        return resp

    @staticmethod
    async def _stall(stall_s: float | None) -> None:
        if stall_s is None:
            await _forever()
        else:
            await asyncio.sleep(stall_s)

    # -- control --------------------------------------------------------------------------------

    def _control_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/_stats", self._get_stats)
        app.router.add_get("/_fault", self._get_fault)
        app.router.add_post("/_fault", self._post_fault)
        app.router.add_get("/health", self._health)
        return app

    def _fault_json(self) -> dict[str, Any]:
        return {**self._plan.fault.to_json(), "listening": self.listening, "port": self.port}

    async def _get_stats(self, request: web.Request) -> web.Response:
        return _json(self.stats().to_json())

    async def _get_fault(self, request: web.Request) -> web.Response:
        return _json(self._fault_json())

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            fault = Fault.parse(orjson.loads(await request.read()))
        except orjson.JSONDecodeError as exc:
            return error_response(400, f"body is not JSON: {exc}")
        except ValueError as exc:
            return error_response(400, str(exc))
        await self.aset_fault(fault)
        return _json(self._fault_json())


class _Chunks:
    """The SSE events of one reply, shaped as vLLM sends them."""

    def __init__(self, model: str, created: int, chat: bool) -> None:
        self.chat = chat
        kind = "chat.completion.chunk" if chat else "text_completion"
        self.base = {"id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}", "object": kind,
                     "created": created, "model": model}

    def _event(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return b"data: " + orjson.dumps({**self.base, "choices": choices, **extra}) + b"\n\n"

    def role(self) -> bytes:
        if not self.chat:
            return b""
        return self._event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                             "finish_reason": None}])

    def token(self, i: int, finish: str | None) -> bytes:
        text = f" t{i}"
        choice: dict[str, Any] = {"index": 0}
        choice.update({"delta": {"content": text}} if self.chat else {"text": text})
        return self._event([{**choice, "logprobs": None, "finish_reason": finish}])

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        return self._event([], usage=usage)


# -- standalone -----------------------------------------------------------------------------------


def _param(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (VALUE in JSON), got {text!r}")
    try:
        return name, orjson.loads(value)
    except orjson.JSONDecodeError:
        raise argparse.ArgumentTypeError(
            f"{name}: value {value!r} is not JSON (e.g. 3, 0.5, null, true)"
        ) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.faults.fault_server",
                                description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--port", type=int, default=0, help="API port (0: a free one)")
    p.add_argument("--control-port", type=int, default=0, help="control port (0: a free one)")
    p.add_argument("--mode", choices=MODES, default="ok")
    p.add_argument("--param", type=_param, action="append", default=[], metavar="NAME=VALUE",
                   help="a fault parameter, repeatable (e.g. after=4, at_token=5, stall_s=null)")
    p.add_argument("--tokens-per-s", type=float, default=200.0, help="per stream; 0: unpaced")
    p.add_argument("--ttft", type=float, default=0.0, help="seconds before the first token")
    p.add_argument("--natural-share", type=float, default=0.5,
                   help="share of max_tokens after which a request without exact-length fields stops")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--max-model-len", type=int, default=32768)
    p.add_argument("--api-key", default=None, help="answer 401 to requests without this bearer key")
    return p


async def _main(args: argparse.Namespace) -> int:
    try:
        fault = Fault.parse({"mode": args.mode, "params": dict(args.param)})
        server = FaultServer(fault, tokens_per_s=args.tokens_per_s or None, ttft_s=args.ttft,
                             natural_share=args.natural_share, model=args.model,
                             max_model_len=args.max_model_len, port=args.port, control_port=args.control_port,
                             api_key=args.api_key)
    except ValueError as exc:
        print(f"fault_server: {exc}", file=sys.stderr)
        return 2
    await server.astart()
    print(orjson.dumps({"url": server.url, "port": server.port, "control_url": server.control_url,
                        "control_port": server.control_port, "pid": os.getpid()}).decode(), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.astop()
    print(orjson.dumps(server.stats().to_json()).decode(), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    loop = new_event_loop()
    try:
        return loop.run_until_complete(_main(args))
    finally:
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
