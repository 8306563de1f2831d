"""The simulator's OpenAI-compatible HTTP face (aiohttp.web), timed by the engine model.

Endpoints: POST /v1/chat/completions and /v1/completions (streaming or not), GET /v1/models
(with max_model_len), POST /tokenize, GET /metrics (vLLM names), GET /health, GET /version.
Every response carries `X-AgentPerf-Simulated: true`; the model id starts with `sim-`.

The engine runs on the loop's clock (perf_counter since start): a timer fires when the next
engine step ends, the engine advances to now, and each stream that got tokens is woken and
writes them (several at once if it fell behind). Requests join the next step.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from agentperf_tui.core.simulator.engine import Engine, RequestRejected, SimRequest
from agentperf_tui.core.simulator.metrics import SimMetrics
from agentperf_tui.core.simulator.power import GpuReading, gpu_readings
from agentperf_tui.core.simulator.profiles import Deployment
from agentperf_tui.core.simulator.tokenizer import (
    GEN_PROMPT,
    block_hashes,
    block_hashes_ids,
    count_bytes,
    output_token,
    render_chat,
    token_ids,
)

SIM_HEADER = "X-AgentPerf-Simulated"
MAX_BODY_BYTES = 256 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(ValueError):
    def __init__(self, message: str, param: str | None = None, status: int = 400,
                 kind: str = "BadRequestError") -> None:
        super().__init__(message)
        self.param = param
        self.status = status
        self.kind = kind


def error_response(status: int, message: str, kind: str = "BadRequestError",
                   param: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": status}}
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


class _Stream:
    """Owner of one in-flight request: the handler waits on it, the engine driver wakes it."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = asyncio.Event()


def _int_param(body: dict[str, Any], name: str, *, minimum: int) -> int | None:
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise BadRequest(f"'{name}' must be an integer, got {v!r}", name)
    if v < minimum:
        raise BadRequest(f"'{name}' must be at least {minimum}, got {v}", name)
    return v


def _bool_param(body: dict[str, Any], name: str) -> bool:
    v = body.get(name, False)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise BadRequest(f"'{name}' must be true or false, got {v!r}", name)
    return v


class SimServer:
    """Engine + HTTP handlers. All engine changes happen on the server's event loop; the lock
    lets other threads (the power telemetry sampler) read a consistent engine."""

    def __init__(self, deployment: Deployment, *, seed: int = 0, model_name: str | None = None) -> None:
        self.deployment = deployment
        self.engine = Engine(deployment, seed=seed)
        self.model_name = model_name or f"sim-{deployment.model.name}"
        self.block = deployment.engine.block_size
        self.lock = threading.Lock()
        self.t0 = time.perf_counter()
        self.created = int(time.time())
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._loop: asyncio.AbstractEventLoop | None = None
        self.tokens_delivered = 0
        self.lag_sum = 0.0
        self.lag_max = 0.0
        self.metrics = SimMetrics(self.engine, self.model_name, self.now,
                                  lambda: (self.tokens_delivered, self.lag_sum, self.lag_max))

    def now(self) -> float:
        """Engine time: seconds since the server was built."""
        return time.perf_counter() - self.t0

    # -- engine driver ---------------------------------------------------------------------

    def _process(self) -> None:
        now = self.now()
        emitted: list[SimRequest] = []
        with self.lock:
            finished = self.engine.run_until(now, emitted)
        if emitted:
            woken: set[int] = set()
            lag_sum = 0.0
            lag_max = self.lag_max
            for r in emitted:
                lag = now - r.t_last
                lag_sum += lag
                if lag > lag_max:
                    lag_max = lag
                if r.rid not in woken:
                    woken.add(r.rid)
                    r.owner.event.set()
            self.tokens_delivered += len(emitted)
            self.lag_sum += lag_sum
            self.lag_max = lag_max
        for r in finished:
            self.metrics.observe(r)

    def _tick(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        try:
            self._process()
        finally:
            self._arm()

    def _arm(self) -> None:
        t = self.engine.next_time()
        if t == math.inf or t >= self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        self._timer = loop.call_later(max(0.0, t - self.now()), self._tick)
        self._timer_at = t

    def _submit(self, req: SimRequest) -> None:
        self._process()
        with self.lock:
            self.engine.submit(req, self.now())
        self._arm()

    def _abort(self, req: SimRequest) -> None:
        with self.lock:
            self.engine.abort(req, self.now())

    def readings(self) -> list[GpuReading]:
        """Per-GPU power readings now (thread-safe)."""
        with self.lock:
            return gpu_readings(self.engine, self.now())

    # -- request parsing -------------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise BadRequest(f"request body is not valid JSON: {e}") from e
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        model = body.get("model")
        if model is not None and model != self.model_name:
            raise BadRequest(f"The model `{model}` does not exist. This simulator serves "
                             f"`{self.model_name}`.", "model", 404, "NotFoundError")
        n = body.get("n")
        if n not in (None, 1):
            raise BadRequest("the simulator serves n=1 only", "n")
        return body

    def _new_request(self, body: dict[str, Any], prompt_len: int, hashes: list[int],
                     st: _Stream) -> SimRequest:
        max_tokens = _int_param(body, "max_completion_tokens", minimum=1)
        if max_tokens is None:
            max_tokens = _int_param(body, "max_tokens", minimum=1)
        min_tokens = _int_param(body, "min_tokens", minimum=0) or 0
        if max_tokens is not None and min_tokens > max_tokens:
            raise BadRequest(f"min_tokens ({min_tokens}) must not exceed max_tokens ({max_tokens})",
                             "min_tokens")
        ignore_eos = _bool_param(body, "ignore_eos")
        try:
            return self.engine.new_request(prompt_len, hashes, self.now(), max_tokens=max_tokens,
                                           min_tokens=min_tokens, ignore_eos=ignore_eos, owner=st)
        except RequestRejected as e:
            raise BadRequest(str(e)) from e

    @staticmethod
    def _stream_opts(body: dict[str, Any]) -> tuple[bool, bool]:
        stream = _bool_param(body, "stream")
        opts = body.get("stream_options") or {}
        if not isinstance(opts, dict):
            raise BadRequest("'stream_options' must be an object", "stream_options")
        if opts and not stream:
            raise BadRequest("stream_options can only be set when stream is true", "stream_options")
        include = opts.get("include_usage", False)
        if not isinstance(include, bool):
            raise BadRequest("'stream_options.include_usage' must be true or false", "stream_options")
        return stream, include

    @staticmethod
    def _messages(body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Any] | None]:
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise BadRequest("'messages' must be a non-empty list", "messages")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                raise BadRequest(f"messages[{i}] must be an object with a 'role'", f"messages.{i}")
        tools = body.get("tools")
        if tools is not None and not isinstance(tools, list):
            raise BadRequest("'tools' must be a list", "tools")
        return msgs, tools

    def _usage(self, req: SimRequest) -> dict[str, Any]:
        return {"prompt_tokens": req.prompt_len, "total_tokens": req.prompt_len + req.out,
                "completion_tokens": req.out, "prompt_tokens_details": {"cached_tokens": req.cached_tokens}}

    # -- handlers --------------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        msgs, tools = self._messages(body)
        stream, include_usage = self._stream_opts(body)
        data = render_chat(msgs, tools)
        st = _Stream()
        req = self._new_request(body, count_bytes(len(data)), block_hashes(data, self.block), st)
        self._submit(req)
        rid = f"chatcmpl-{uuid.uuid4().hex}"
        if stream:
            return await self._stream(request, req, st, rid, "chat.completion.chunk", include_usage,
                                      chat=True)
        await self._wait(req, st)
        text = "".join(output_token(req.rid, i) for i in range(req.out))
        return self._json({
            "id": rid, "object": "chat.completion", "created": self.created, "model": self.model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "tool_calls": []},
                         "logprobs": None, "finish_reason": req.finish_reason, "stop_reason": None}],
            "usage": self._usage(req), "system_fingerprint": "agentperf-sim (simulated)"})

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
            prompt = prompt[0]
        if isinstance(prompt, str):
            data = prompt.encode("utf-8")
            prompt_len, hashes = count_bytes(len(data)), block_hashes(data, self.block)
        elif isinstance(prompt, list) and prompt and all(isinstance(x, int) and not isinstance(x, bool)
                                                         for x in prompt):
            prompt_len, hashes = len(prompt), block_hashes_ids(prompt, self.block)
        else:
            raise BadRequest("'prompt' must be a string or a list of token ids (one prompt)", "prompt")
        stream, include_usage = self._stream_opts(body)
        st = _Stream()
        req = self._new_request(body, prompt_len, hashes, st)
        self._submit(req)
        rid = f"cmpl-{uuid.uuid4().hex}"
        if stream:
            return await self._stream(request, req, st, rid, "text_completion", include_usage, chat=False)
        await self._wait(req, st)
        text = "".join(output_token(req.rid, i) for i in range(req.out))
        return self._json({
            "id": rid, "object": "text_completion", "created": self.created, "model": self.model_name,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": req.finish_reason,
                         "stop_reason": None}],
            "usage": self._usage(req)})

    async def _wait(self, req: SimRequest, st: _Stream) -> None:
        try:
            while not req.finished:
                await st.event.wait()
                st.event.clear()
        except asyncio.CancelledError:
            self._abort(req)
            raise

    async def _stream(self, request: web.Request, req: SimRequest, st: _Stream, rid: str, obj: str,
                      include_usage: bool, *, chat: bool) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        head = (b'data: {"id":"' + rid.encode() + b'","object":"' + obj.encode() + b'","created":'
                + str(self.created).encode() + b',"model":' + orjson.dumps(self.model_name)
                + b',"choices":[{"index":0,')
        if chat:
            first = (head + b'"delta":{"role":"assistant","content":""},"logprobs":null,'
                     b'"finish_reason":null}]}\n\n')
            pre, post = head + b'"delta":{"content":"', b'"},"logprobs":null,"finish_reason":'
        else:
            first = b""
            pre, post = head + b'"text":"', b'","logprobs":null,"stop_reason":null,"finish_reason":'
        reason = b'"' + req.finish_reason.encode() + b'"}]}\n\n'
        cont = b"null}]}\n\n"
        sent = 0
        seed = req.rid
        try:
            await resp.prepare(request)
            while True:
                await st.event.wait()
                st.event.clear()
                n = req.out
                if n > sent and not req.aborted:
                    parts: list[bytes] = [first] if sent == 0 else []
                    last = n - 1 if req.finished else -1
                    for i in range(sent, n):
                        end = reason if i == last else cont
                        parts.append(pre + output_token(seed, i).encode() + post + end)
                    sent = n
                    await resp.write(b"".join(parts))
                if req.finished:
                    tail = b""
                    if include_usage:
                        usage = {"id": rid, "object": obj, "created": self.created, "model": self.model_name,
                                 "choices": [], "usage": self._usage(req)}
                        tail = b"data: " + orjson.dumps(usage) + b"\n\n"
                    await resp.write(tail + b"data: [DONE]\n\n")
                    break
        except asyncio.CancelledError:
            self._abort(req)
            raise
        except ConnectionError:
            # the client went away: free the request's KV blocks and end quietly
            self._abort(req)
        return resp

    async def models(self, request: web.Request) -> web.Response:
        dep = self.deployment
        return self._json({"object": "list", "data": [{
            "id": self.model_name, "object": "model", "created": self.created, "owned_by": "agentperf-sim",
            "root": dep.model.hf_id or dep.model.name, "parent": None,
            "max_model_len": dep.model.max_model_len, "permission": [],
            "simulated": True, "deployment": dep.label}]})

    async def tokenize(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if "messages" in body:
            msgs, tools = self._messages(body)
            data = render_chat(msgs, tools)
            if body.get("add_generation_prompt") is False:
                data = data[: len(data) - len(GEN_PROMPT)]
        elif isinstance(body.get("prompt"), str):
            data = body["prompt"].encode("utf-8")
        else:
            raise BadRequest("give 'prompt' (a string) or 'messages'", "prompt")
        ids = token_ids(data)
        return self._json({"count": len(ids), "max_model_len": self.deployment.model.max_model_len,
                           "tokens": ids, "token_strs": None})

    async def prom(self, request: web.Request) -> web.Response:
        with self.lock:
            body = self.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def version(self, request: web.Request) -> web.Response:
        return self._json({"version": "agentperf-sim", "simulated": True})

    @staticmethod
    def _json(obj: Any, status: int = 200) -> web.Response:
        return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")

    # -- application -----------------------------------------------------------------------

    def app(self) -> web.Application:
        @web.middleware
        async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
            try:
                return await handler(request)
            except BadRequest as e:
                return error_response(e.status, str(e), e.kind, e.param)

        async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
            response.headers[SIM_HEADER] = "true"

        async def on_startup(app: web.Application) -> None:
            self._loop = asyncio.get_running_loop()

        async def on_cleanup(app: web.Application) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        app = web.Application(middlewares=[errors], client_max_size=MAX_BODY_BYTES)
        app.on_response_prepare.append(on_prepare)
        app.on_startup.append(on_startup)
        app.on_cleanup.append(on_cleanup)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/tokenize", self.tokenize)
        app.router.add_get("/metrics", self.prom)
        app.router.add_get("/health", self.health)
        app.router.add_get("/version", self.version)
        return app
