"""Questions asked of a server before a run: which models it serves, and whether it generates
exactly the number of tokens asked for (`probe_exact_length`; the method is in docs/client.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from agentperf_tui.core.client.errors import EndpointError
from agentperf_tui.core.client.request import CHAT_PATH, EXACT_FIELDS, chat_body
from agentperf_tui.core.client.sse import ParsedStream, complete_reply, parse_stream
from agentperf_tui.core.client.stream import StreamClient

FieldVerdict = Literal["honoured", "ignored", "rejected", "unverified"]

PROBE_MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": "Answer with one word only: is water wet?"},
]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    max_model_len: int | None = None
    """Longest context a request may use, when the server says (see `context_source`)."""
    context_source: str | None = None
    """Where `max_model_len` came from: "max_model_len" (vLLM, SGLang), "meta.n_ctx" or
    "/props n_ctx" (llama.cpp, per slot), "context_length"."""
    owned_by: str | None = None
    simulated: bool = False
    """The server says this model is simulated (agentperf-tui's own simulator marks its models)."""
    deployment: str | None = None
    """What a simulated server says it models (e.g. "gpt-oss-120b on 1 x b200 (simulated)")."""


@dataclass(frozen=True, slots=True)
class ExactLengthProbe:
    tokens: int
    ignore_eos: FieldVerdict
    min_tokens: FieldVerdict
    comparable: bool
    exact_fields: tuple[str, ...]
    """The fields to send for exact lengths on this server (pass to `chat_body(exact_fields=...)`)."""
    natural_tokens: int | None
    """Output tokens of the request with neither field."""
    exact_tokens: int | None
    """Output tokens of the request with `exact_fields`."""
    usage_reported: bool
    """The server put usage in the stream; when False, counts are the client's own."""
    detail: str


@dataclass(frozen=True, slots=True)
class EndpointCheck:
    ok: bool
    base_url: str
    model: str
    error: str | None
    """What is wrong and what to do about it; None when ok."""
    served: tuple[ModelInfo, ...] = ()
    model_info: ModelInfo | None = None
    bad_setting: str | None = None
    """The setting the server refused, when the fault is the run's and not the server's: "api_key"
    (authentication failed) or "model" (not served there)."""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _context(entry: dict[str, Any]) -> tuple[int | None, str | None]:
    for key in ("max_model_len", "context_length", "context_window"):
        if (n := _int(entry.get(key))) is not None:
            return n, key
    meta = entry.get("meta")
    if isinstance(meta, dict) and (n := _int(meta.get("n_ctx"))) is not None:
        return n, "meta.n_ctx"
    return None, None


async def _llama_props_ctx(client: StreamClient) -> int | None:
    try:
        props = await client.get_json("/props")
    except EndpointError:
        return None
    if not isinstance(props, dict):
        return None
    settings = props.get("default_generation_settings")
    if isinstance(settings, dict) and (n := _int(settings.get("n_ctx"))) is not None:
        return n
    return _int(props.get("n_ctx"))


async def list_models(client: StreamClient) -> list[ModelInfo]:
    """The models `GET /v1/models` lists; raises `EndpointError` when the list cannot be had."""
    url = client.base_url + "/v1/models"
    listing = await client.get_json("/v1/models")
    entries = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(entries, list):
        raise EndpointError(url, "invalid", "expected a JSON object with a 'data' list of models")
    models: list[ModelInfo] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise EndpointError(url, "invalid", f"model entry without a string 'id': {entry!r:.200}")
        ctx, source = _context(entry)
        owned_by = entry.get("owned_by") if isinstance(entry.get("owned_by"), str) else None
        if ctx is None and owned_by == "llamacpp":
            ctx = await _llama_props_ctx(client)
            source = "/props n_ctx" if ctx is not None else None
        simulated = entry.get("simulated") is True
        deployment = entry.get("deployment")
        deployment = deployment if simulated and isinstance(deployment, str) else None
        models.append(ModelInfo(entry["id"], ctx, source, owned_by, simulated, deployment))
    return models


def _count(p: ParsedStream) -> int:
    return p.output_tokens if p.output_tokens is not None else p.client_output_tokens


async def _ask(client: StreamClient, model: str, tokens: int, fields: tuple[str, ...] | None) -> ParsedStream:
    """One probe request; `fields` None sends neither exact-length field."""
    body = chat_body(
        model,
        PROBE_MESSAGES,
        max_tokens=tokens,
        exact=fields is not None,
        exact_fields=fields or (),
        extra={"temperature": 0},
    )
    clock = time.perf_counter
    return parse_stream(await client.stream(CHAT_PATH, body, clock(), clock))


def _rejected(p: ParsedStream) -> bool:
    return p.http_status is not None and 400 <= p.http_status < 500


def _failed(client: StreamClient, p: ParsedStream) -> EndpointError:
    kind = "unreachable" if p.http_status is None and p.error and "connect" in p.error else "http"
    return EndpointError(client.base_url + CHAT_PATH, kind, f"probe request failed: {p.error}")


def _verdict(p: ParsedStream, tokens: int, natural: int) -> FieldVerdict:
    if _rejected(p):
        return "rejected"
    if _count(p) < tokens:
        return "ignored"
    return "honoured" if natural < tokens else "unverified"


async def probe_exact_length(client: StreamClient, model: str, *, tokens: int = 64) -> ExactLengthProbe:
    """Find out whether `model` on this server generates exactly `tokens` when asked.

    Raises `EndpointError` when even the plain request fails (the server cannot be benchmarked)."""
    if tokens < 2:
        raise ValueError("probe with at least 2 tokens")
    natural = await _ask(client, model, tokens, None)
    if not complete_reply(natural):
        raise _failed(client, natural)
    n0 = _count(natural)
    lines = [f"without exact-length fields the model produced {n0} of {tokens} tokens"]

    verdicts: dict[str, FieldVerdict] = {}
    for name in EXACT_FIELDS:
        p = await _ask(client, model, tokens, (name,))
        if not complete_reply(p) and not _rejected(p):
            raise _failed(client, p)
        verdicts[name] = v = _verdict(p, tokens, n0)
        got = f"HTTP {p.http_status}: {p.error}" if v == "rejected" else f"{_count(p)} tokens"
        lines.append(f"{name} alone: {got} -> {v}")
    if n0 >= tokens:
        lines.append("the model did not stop early here, so honoured and ignored cannot be told apart")

    fields = tuple(name for name in EXACT_FIELDS if verdicts[name] in ("honoured", "unverified"))
    exact: ParsedStream | None = None
    if fields:
        exact = await _ask(client, model, tokens, fields)
        if not complete_reply(exact):
            raise _failed(client, exact)
    n_exact = _count(exact) if exact is not None else None
    comparable = n_exact == tokens
    if comparable:
        lines.append(f"sending {' + '.join(fields)}: exactly {tokens} tokens; lengths are comparable")
    elif fields:
        lines.append(
            f"sending {' + '.join(fields)}: {n_exact} of {tokens} tokens; output lengths will not match "
            "the trajectories, the run is not comparable"
        )
    else:
        lines.append("the server honours neither field; the run is not comparable")
    usage = natural.output_tokens is not None
    if not usage:
        lines.append("the server sends no usage in the stream; token counts are the client's own")
    return ExactLengthProbe(
        tokens=tokens,
        ignore_eos=verdicts["ignore_eos"],
        min_tokens=verdicts["min_tokens"],
        comparable=comparable,
        exact_fields=fields,
        natural_tokens=n0,
        exact_tokens=n_exact,
        usage_reported=usage,
        detail="\n".join(lines),
    )


def _explain(exc: EndpointError, base_url: str) -> str:
    if exc.kind == "unreachable":
        return f"cannot reach {base_url} ({exc.detail}): is the server running, and are host and port right?"
    if exc.kind == "timeout":
        return f"{base_url} did not answer in time: is it overloaded, or is the port another service's?"
    if exc.status in (401, 403):
        return (
            f"authentication failed (HTTP {exc.status}) at {exc.url}: {exc.detail}. "
            "Pass the server's API key: name the environment variable holding it with --api-key-env."
        )
    if exc.status == 404:
        return (
            f"{exc.url} not found (HTTP 404): is {base_url} the root of an OpenAI-compatible server "
            "(for example http://host:8000)?"
        )
    if exc.kind == "http":
        return f"{exc.url} answered HTTP {exc.status}: {exc.detail}"
    return f"{exc.url} did not return a model list: {exc.detail}"


async def check_endpoint(
    base_url: str, model: str | None, api_key: str | None = None, *, timeout: float = 10.0
) -> EndpointCheck:
    """Is `base_url` an OpenAI-compatible server that accepts our key and serves `model` (None:
    any model; the first one listed is taken)?"""
    try:
        client = StreamClient(base_url, api_key=api_key, connect_timeout=timeout, read_timeout=timeout)
    except ValueError as exc:
        return EndpointCheck(False, base_url, model or "", str(exc))
    try:
        return await check_served(client, model)
    finally:
        await client.aclose()


async def check_served(client: StreamClient, model: str | None) -> EndpointCheck:
    """`check_endpoint` on an open client: one `GET /v1/models`."""
    try:
        served = tuple(await list_models(client))
    except EndpointError as exc:
        refused = "api_key" if exc.status in (401, 403) else None
        return EndpointCheck(False, client.base_url, model or "", _explain(exc, client.base_url),
                             bad_setting=refused)
    if model is None:
        if not served:
            error = f"{client.base_url} lists no models; pass --model"
            return EndpointCheck(False, client.base_url, "", error)
        model = served[0].id
    for info in served:
        if info.id == model:
            return EndpointCheck(True, client.base_url, model, None, served, info)
    if not served:
        error = f"model {model!r} is not served at {client.base_url}: the server lists no models"
    else:
        names = ", ".join(info.id for info in served)
        error = f"model {model!r} is not served at {client.base_url}; served: {names}"
        close = [info.id for info in served if info.id.lower() == model.lower()]
        if close:
            error += f" (did you mean {close[0]!r}?)"
    return EndpointCheck(False, client.base_url, model, error, served, bad_setting="model")
