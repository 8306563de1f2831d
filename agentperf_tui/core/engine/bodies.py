"""The JSON body of each request, from a turn request and the run's API settings.

A text trajectory's conversations are shared by every agent replaying it (`TurnRequest.prefix`
set): each of their messages is encoded once, and a body is joined from those fragments around
the replay's dynamic prefix, so no agent encodes, or keeps, a copy of its context. The bytes are
the ones `chat_body` / `completion_body` make of the prefixed conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from agentperf_tui.core.client.request import (
    CHAT_PATH,
    COMPLETIONS_PATH,
    chat_body,
    chat_body_frame,
    completion_body,
    completion_body_frame,
)
from agentperf_tui.core.engine.conversation import TurnRequest
from agentperf_tui.core.workload.text_replay import ChatMessage, with_prefix

PREFIX_SLOT = "agentperfDynamicPrefixSlot"
"""Stands for the dynamic prefix while a first message is encoded, to find where it goes (plain
letters: JSON encodes it as itself)."""
FRAMES_KEPT = 1024
"""Body frames (model, tools, max_tokens) kept encoded; more are encoded again."""


def _prompt_text(messages: list[dict[str, Any]]) -> str:
    return "\n\n".join(_text(m) for m in messages)


def _text(message: ChatMessage) -> str:
    return str(message.get("content") or "")


def request_path(api: str) -> str:
    return CHAT_PATH if api == "chat" else COMPLETIONS_PATH


@dataclass(frozen=True, slots=True)
class _Encoded:
    """One shared conversation, encoded: its first message (whole, and split where a prefix goes)
    and the rest, separators included."""

    messages: list[ChatMessage]
    """Held, so that the id it is found by stays its own."""
    first: bytes
    slot: tuple[bytes, bytes] | None
    """The first message encoded around its prefix; None where the prefix cannot be spliced in
    (it is then encoded with the prefix for each request)."""
    rest: tuple[bytes, ...]


class Bodies:
    """Builds the body of each request for one API ("chat" or "completions") and model."""

    def __init__(self, api: str, model: str, exact: bool, exact_fields: tuple[str, ...]) -> None:
        self._chat = api == "chat"
        self._model = model
        self._exact = exact
        self._exact_fields = exact_fields
        self._sep = b"," if self._chat else orjson.dumps("\n\n")[1:-1]
        self._contexts: dict[int, _Encoded] = {}
        self._messages: dict[int, tuple[ChatMessage, bytes]] = {}
        self._slots: dict[int, tuple[ChatMessage, tuple[bytes, bytes] | None]] = {}
        self._frames: dict[tuple[int, int], tuple[list[dict[str, Any]] | None, bytes, bytes]] = {}

    def __call__(self, req: TurnRequest) -> bytes:
        if req.prefix is None:
            return self._whole(req)
        open_, close = self._frame(req)
        messages = req.messages
        if not messages:
            return open_ + close
        enc = self._contexts.get(id(messages))
        if enc is None or enc.messages is not messages:
            enc = self._contexts[id(messages)] = self._encode_context(messages)
        parts = [open_]
        if not req.prefix:
            parts.append(enc.first)
        elif enc.slot is not None:
            parts += (enc.slot[0], orjson.dumps(req.prefix)[1:-1], enc.slot[1])
        else:
            parts.append(self._encode(with_prefix(messages[0], req.prefix)))
        parts += enc.rest
        parts.append(close)
        return b"".join(parts)

    # ---- a request's own messages, encoded whole ----
    def _whole(self, req: TurnRequest) -> bytes:
        if self._chat:
            return chat_body(
                self._model, req.messages, max_tokens=req.output_tokens, tools=req.tools, exact=self._exact,
                exact_fields=self._exact_fields,
            )
        return completion_body(
            self._model, _prompt_text(req.messages), max_tokens=req.output_tokens, exact=self._exact,
            exact_fields=self._exact_fields,
        )

    # ---- shared conversations, encoded once ----
    def _frame(self, req: TurnRequest) -> tuple[bytes, bytes]:
        """The body around the messages (or the prompt), for this request's tools and length."""
        key = (id(req.tools), req.output_tokens)
        kept = self._frames.get(key)
        if kept is not None and kept[0] is req.tools:
            return kept[1], kept[2]
        if self._chat:
            open_, close = chat_body_frame(
                self._model, max_tokens=req.output_tokens, tools=req.tools, exact=self._exact,
                exact_fields=self._exact_fields,
            )
        else:
            open_, close = completion_body_frame(
                self._model, max_tokens=req.output_tokens, exact=self._exact, exact_fields=self._exact_fields
            )
        if len(self._frames) >= FRAMES_KEPT:
            self._frames.clear()
        self._frames[key] = (req.tools, open_, close)
        return open_, close

    def _encode(self, message: ChatMessage) -> bytes:
        if self._chat:
            return orjson.dumps(message)
        return orjson.dumps(_text(message))[1:-1]

    def _message(self, message: ChatMessage) -> bytes:
        kept = self._messages.get(id(message))
        if kept is None or kept[0] is not message:
            # a copy of its own size: orjson's bytes keep the room it grew into while encoding,
            # many times the text for a short message, and these are kept for the whole run
            kept = self._messages[id(message)] = (message, memoryview(self._encode(message)).tobytes())
        return kept[1]

    def _encode_context(self, messages: list[ChatMessage]) -> _Encoded:
        first = messages[0]
        rest: list[bytes] = []
        for m in messages[1:]:
            rest += (self._sep, self._message(m))
        return _Encoded(messages, self._message(first), self._slot(first), tuple(rest))

    def _slot(self, first: ChatMessage) -> tuple[bytes, bytes] | None:
        kept = self._slots.get(id(first))
        if kept is None or kept[0] is not first:
            kept = self._slots[id(first)] = (first, self._split_at_prefix(first))
        return kept[1]

    def _split_at_prefix(self, first: ChatMessage) -> tuple[bytes, bytes] | None:
        if not self._chat and isinstance(first.get("content"), list):
            return None  # a completion prompt spells list content as Python would print it
        encoded = self._encode(with_prefix(first, PREFIX_SLOT))
        mark = PREFIX_SLOT.encode()
        if encoded.count(mark) != 1:
            return None
        head, _, tail = encoded.partition(mark)
        return head, tail
