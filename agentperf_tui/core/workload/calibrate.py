"""Fit the filler-text calibration from a few requests to the server under test.

The caller supplies `count_prompt_tokens(messages)`: it sends one chat request (max_tokens=1)
and returns the server's `usage.prompt_tokens`. Probes vary the number of messages and words;
a least-squares fit of (base, per message, per word) follows, then one held-out conversation
built the way a replay builds it checks the fit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from .filler import BLOCK, Calibration, FillerText, TokenConversation
from .trajectory import TokenTurn

CountFn = Callable[[list[dict[str, Any]]], Awaitable[int]]

# (messages, blocks of words per message) for each probe; total words are whole blocks
_PROBES: tuple[tuple[int, tuple[float, ...]], ...] = (
    (1, (2,)),
    (1, (8,)),
    (5, (0.5, 0.5, 0.5, 0.25, 0.25)),
    (3, (2, 1, 2)),
    (9, (1, 0.5, 1, 0.5, 1, 0.5, 1, 0.5, 2)),
)


MIN_TOKENS_PER_WORD = 0.1
"""Below this a fit is nonsense (no tokenizer packs ten English words into one token)."""


class CalibrationError(RuntimeError):
    """The server's prompt-token counts do not fit the filler model (or make no sense)."""


def _probe_messages(seed: int, sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    filler = FillerText(seed)
    roles = ("user", "assistant")
    return [{"role": roles[k % 2], "content": filler.words(n)} for k, n in enumerate(sizes)]


async def calibrate(
    count_prompt_tokens: CountFn, *, seed: int = 0, max_probe_words: int = 8 * BLOCK
) -> Calibration:
    """Calibrate against a server; `max_probe_words` bounds the largest probe (keep it in context)."""
    scale = max(1, max_probe_words) / (8 * BLOCK)
    rows: list[tuple[int, int]] = []
    counts: list[int] = []
    for m, blocks in _PROBES:
        sizes = tuple(max(1, round(b * BLOCK * scale)) for b in blocks)
        messages = _probe_messages(seed, sizes)
        n = await count_prompt_tokens(messages)
        if not isinstance(n, int) or n <= 0:
            raise CalibrationError(f"server counted {n!r} prompt tokens for a {sum(sizes)}-word probe")
        rows.append((m, sum(sizes)))
        counts.append(n)
    a = np.array([[1.0, m, w] for m, w in rows])
    y = np.array(counts, dtype=float)
    (base, per_msg, per_word), *_ = np.linalg.lstsq(a, y, rcond=None)
    if not per_word >= MIN_TOKENS_PER_WORD or counts[1] <= counts[0]:
        raise CalibrationError(
            f"prompt tokens do not grow with text (fitted {per_word:.4f} tokens/word from counts {counts}); "
            "is the server counting the messages it was sent?"
        )
    fit = a @ np.array([base, per_msg, per_word])
    err = float(np.max(np.abs(fit - y) / y))
    cal = Calibration(float(per_word), float(per_msg), float(base), probes=len(rows) + 1)
    # held-out check: a two-turn conversation assembled exactly as a replay assembles it
    conv = TokenConversation(prefix="", calibration=cal, seed=seed + 1)
    target0 = round(cal.estimate(1, round(3 * BLOCK * scale)))
    grow = max(40, round(target0 * 0.3))
    turns = [
        TokenTurn(i=0, new_input_tokens=target0, output_tokens=max(8, grow // 3)),
        TokenTurn(i=1, new_input_tokens=grow, cached_prefix_tokens=target0, output_tokens=16),
    ]
    sent: list[dict[str, str]] = []
    for t in turns:
        sent = conv.advance(t)
    held = await count_prompt_tokens(list(sent))
    target = turns[-1].prompt_tokens
    err = max(err, abs(held - target) / target)
    return Calibration(cal.tokens_per_word, cal.per_message_overhead, cal.base_overhead, fit_error=err,
                       probes=len(rows) + 1)
