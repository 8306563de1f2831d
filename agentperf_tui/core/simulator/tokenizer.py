"""The simulator's tokenizer: one token per 4 bytes of UTF-8, after a fixed chat template.

Deliberately cheap and exactly repeatable: the same text always counts the same, a prompt
that extends another prompt extends its token sequence, and a prefix-cache block is a fixed
run of bytes, so block hashes of a growing conversation match turn after turn. Counts track
the "about 4 characters per token" rule of thumb of English BPE tokenizers.

Chat template: each message renders as `<|role|>content<|end|>`, tool definitions (JSON) render
first as a system block, and the generation prompt `<|assistant|>` closes the prompt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

BYTES_PER_TOKEN = 4
GEN_PROMPT = b"<|assistant|>"

# Output words of exactly BYTES_PER_TOKEN bytes, so generated text re-counts to its token count.
_WORDS = (" the", " and", " for", " you", " not", " are", " but", " can", " use", " new",
          " run", " fix", " add", " set", " get", " map", " key", " row", " log", " end")


def count_bytes(n_bytes: int) -> int:
    return (n_bytes + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN


def _content_bytes(content: Any) -> bytes:
    if content is None:
        return b""
    if isinstance(content, str):
        return content.encode("utf-8")
    if isinstance(content, list):
        parts: list[bytes] = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"].encode("utf-8"))
            else:
                parts.append(orjson.dumps(part, option=orjson.OPT_SORT_KEYS))
        return b"".join(parts)
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def render_message(msg: Mapping[str, Any]) -> bytes:
    role = str(msg.get("role", "user"))
    body = _content_bytes(msg.get("content"))
    extra = {k: v for k, v in msg.items() if k not in ("role", "content") and v is not None}
    if extra:
        body += orjson.dumps(extra, option=orjson.OPT_SORT_KEYS)
    return b"<|" + role.encode() + b"|>" + body + b"<|end|>"


def render_chat(messages: Iterable[Mapping[str, Any]], tools: Sequence[Any] | None = None) -> bytes:
    """The prompt bytes of a chat request (tools, messages, generation prompt)."""
    parts: list[bytes] = []
    if tools:
        parts.append(b"<|tools|>" + orjson.dumps(list(tools), option=orjson.OPT_SORT_KEYS) + b"<|end|>")
    parts.extend(render_message(m) for m in messages)
    parts.append(GEN_PROMPT)
    return b"".join(parts)


def count_chat(messages: Iterable[Mapping[str, Any]], tools: Sequence[Any] | None = None) -> int:
    return count_bytes(len(render_chat(messages, tools)))


def token_ids(data: bytes) -> list[int]:
    """Token ids: each 4-byte run read as an unsigned little-endian integer."""
    step = BYTES_PER_TOKEN
    return [int.from_bytes(data[i:i + step], "little") for i in range(0, len(data), step)]


def block_hashes(data: bytes, block_tokens: int) -> list[int]:
    """Chained hashes of the full cache blocks of a prompt (parent hash, block bytes)."""
    size = block_tokens * BYTES_PER_TOKEN
    out: list[int] = []
    h = 0
    for i in range(0, len(data) - size + 1, size):
        h = hash((h, data[i:i + size]))
        out.append(h)
    return out


def block_hashes_ids(ids: Sequence[int], block_tokens: int) -> list[int]:
    """Chained block hashes of a prompt given as token ids."""
    out: list[int] = []
    h = 0
    for i in range(0, len(ids) - block_tokens + 1, block_tokens):
        h = hash((h, tuple(ids[i:i + block_tokens])))
        out.append(h)
    return out


def output_token(seed: int, i: int) -> str:
    """The i-th generated token of a reply (a 4-byte word), deterministic in (seed, i)."""
    return _WORDS[(seed * 7 + i * 13 + (i >> 3)) % len(_WORDS)]
