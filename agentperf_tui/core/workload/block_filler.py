"""Filler text built from block hashes: the same hash always gives the same text.

A prompt given as block hashes (recorded, or implied by tree_plan) becomes one user message:
the replay's dynamic prefix, then the text of each block in order. So two prompts that share
their first n hashes share their first n blocks of text byte for byte, and a server's prefix
cache finds exactly the reuse the hashes imply; where the hashes part, the text parts.

Which words, and how many: the blocks lie on a fixed grid over one balanced filler stream (the
stratified stream of filler.py, the same for everyone). The chat template's overhead and the
dynamic prefix (the same for every request of a replay) come first; block p then covers the
stream's words for prompt tokens p·B to (p+1)·B: round(((p+1)·B − O)/tpw) − round((p·B − O)/tpw)
words (O: the overhead, tpw: the calibration's tokens per word). The block's hash (with its
namespace) only decides the order of those words. So the words of any prompt are a run of the
balanced stream whatever its hashes: its token count is as close to the calibration as the
filler's own (rounding never accumulates), while different hashes give different text. The last
block takes the words left to reach the target; a shorter last block is the start of the same
block's full text, so it keeps sharing with a longer copy of it. Text past the last hashed block
(recordings that hash only full blocks) continues the grid, in an order keyed by the blocks
before it.

The dynamic prefix goes first: two replays of one tree (or two trees) differ from the first
token and share nothing, while every prompt of one tree replay starts with the same prefix and
keeps the sharing inside the tree.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .filler import BLOCK, Calibration, FillerText

GRID_SEED = 0x5EED_B10C
"""Seed of the balanced stream every block's words come from (fixed: part of the format's replay)."""

_grid: list[str] = []
_grid_stream = FillerText(GRID_SEED)
_grid_lock = threading.Lock()


def _grid_words(start: int, count: int) -> list[str]:
    end = start + count
    if len(_grid) < end:
        with _grid_lock:
            while len(_grid) < end:
                _grid.extend(_grid_stream.words(BLOCK * 64).split(" "))
    return _grid[start:end]


def _seed(namespace: str, block_hash: int) -> int:
    digest = hashlib.blake2b(f"{namespace}\x1f{block_hash}".encode(), digest_size=16).digest()
    return int.from_bytes(digest, "big")


@lru_cache(maxsize=1 << 16)
def block_words(namespace: str, block_hash: int, start: int, count: int) -> tuple[str, ...]:
    """The words of one block: `count` words of the grid from `start`, in the hash's order."""
    words = _grid_words(start, count)
    order = np.random.default_rng(_seed(namespace, block_hash)).permutation(count)
    return tuple(words[i] for i in order)


def block_prompt_text(
    block_hashes: Sequence[int], prompt_tokens: int, *, block_size: int, calibration: Calibration,
    prefix: str = "", namespace: str = "",
) -> str:
    """The content of the single user message that stands for this prompt.

    `namespace` scopes the hashes: a trajectory id for hashes that mean something only inside
    one trajectory, "" for hashes shared across a set.
    """
    tpw = calibration.tokens_per_word
    prefix_words = len(prefix.split())
    overhead = calibration.base_overhead + calibration.per_message_overhead + tpw * prefix_words

    def before(p: int) -> int:
        return max(0, round((p * block_size - overhead) / tpw))

    content = max(1, calibration.words_for(prompt_tokens, 1) - prefix_words)
    parts: list[str] = [prefix] if prefix else []
    done = 0
    n = len(block_hashes)
    for p, h in enumerate(block_hashes):
        start, size = before(p), max(1, before(p + 1) - before(p))
        take = size if p < n - 1 else min(size, max(1, content - done))
        parts.append(" ".join(block_words(namespace, h, start, size)[:take]))
        done += take
    if done < content:
        start = before(n) if n else 0
        key = _tail_key(block_hashes)
        parts.append(" ".join(block_words(namespace, key, start, content - done)))
    return " ".join(parts)


def _tail_key(block_hashes: Sequence[int]) -> int:
    """Order key of text past the last hashed block: a function of the blocks before it."""
    digest = hashlib.blake2b(repr(tuple(block_hashes[-4:])).encode(), digest_size=8).digest()
    return -1 - int.from_bytes(digest, "big")


def block_messages(
    block_hashes: Sequence[int], prompt_tokens: int, *, block_size: int, calibration: Calibration,
    prefix: str = "", namespace: str = "",
) -> list[dict[str, str]]:
    """The chat messages of one request whose prompt is these block hashes: one user message."""
    content = block_prompt_text(block_hashes, prompt_tokens, block_size=block_size, calibration=calibration,
                                prefix=prefix, namespace=namespace)
    return [{"role": "user", "content": content}]
