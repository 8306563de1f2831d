"""Request bodies for the two OpenAI-compatible streaming endpoints, serialised once with orjson.

Every body streams and asks for usage in the stream (`stream_options.include_usage`): the server's
own token counts are what output speed is computed from. With `exact`, the body asks for exactly
`max_tokens` output tokens: `ignore_eos` (vLLM, SGLang, llama.cpp) and `min_tokens` (vLLM, SGLang;
llama.cpp ignores it silently). `probe.probe_exact_length` tells which of them a server honours;
`exact_fields` narrows what is sent (a server that rejects an unknown field).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

EXACT_FIELDS: tuple[str, ...] = ("ignore_eos", "min_tokens")

CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"


def _finish(
    body: dict[str, Any],
    max_tokens: int,
    exact: bool,
    exact_fields: Iterable[str],
    extra: dict[str, Any] | None,
) -> bytes:
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    body["max_tokens"] = max_tokens
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    if exact:
        for name in exact_fields:
            if name == "ignore_eos":
                body["ignore_eos"] = True
            elif name == "min_tokens":
                body["min_tokens"] = max_tokens
            else:
                raise ValueError(f"unknown exact-length field {name!r}: use {', '.join(EXACT_FIELDS)}")
    if extra:
        body.update(extra)
    return orjson.dumps(body)


def chat_body(
    model: str,
    messages: list[dict[str, Any]],
    *,
    max_tokens: int,
    tools: list[dict[str, Any]] | None = None,
    exact: bool = True,
    extra: dict[str, Any] | None = None,
    exact_fields: Iterable[str] = EXACT_FIELDS,
) -> bytes:
    """A streamed /v1/chat/completions body; `extra` fields are merged last (they win)."""
    body: dict[str, Any] = {"model": model, "messages": messages}
    if tools:
        body["tools"] = tools
    return _finish(body, max_tokens, exact, exact_fields, extra)


def completion_body(
    model: str,
    prompt: str,
    *,
    max_tokens: int,
    exact: bool = True,
    extra: dict[str, Any] | None = None,
    exact_fields: Iterable[str] = EXACT_FIELDS,
) -> bytes:
    """A streamed /v1/completions body; `extra` fields are merged last (they win)."""
    return _finish({"model": model, "prompt": prompt}, max_tokens, exact, exact_fields, extra)


def _around(whole: bytes, slot: bytes) -> tuple[bytes, bytes]:
    # The slot's key follows "model", a JSON string (its quotes are escaped), so its first
    # occurrence is the key itself.
    cut = whole.index(slot) + len(slot)
    return whole[:cut], whole[cut:]


def chat_body_frame(
    model: str,
    *,
    max_tokens: int,
    tools: list[dict[str, Any]] | None = None,
    exact: bool = True,
    exact_fields: Iterable[str] = EXACT_FIELDS,
) -> tuple[bytes, bytes]:
    """`chat_body` around its messages: `chat_body(model, messages, ...)` is `open` +
    `b",".join(orjson.dumps(m) for m in messages)` + `close`, so a body can be joined from
    messages encoded beforehand."""
    whole = chat_body(model, [], max_tokens=max_tokens, tools=tools, exact=exact, exact_fields=exact_fields)
    return _around(whole, b'"messages":[')


def completion_body_frame(
    model: str, *, max_tokens: int, exact: bool = True, exact_fields: Iterable[str] = EXACT_FIELDS
) -> tuple[bytes, bytes]:
    """`completion_body` around its prompt's characters: `completion_body(model, prompt, ...)` is
    `open` + `orjson.dumps(prompt)[1:-1]` + `close`."""
    whole = completion_body(model, "", max_tokens=max_tokens, exact=exact, exact_fields=exact_fields)
    return _around(whole, b'"prompt":"')
