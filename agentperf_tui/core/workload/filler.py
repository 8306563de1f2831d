"""Generated filler text for token-only trajectories, sized by a calibration against the server.

A token-only turn says how many prompt tokens to send, not which. The replay sends a growing
chat conversation of plain English words; `Calibration` turns a token count into a word count
using the server's own counts (see calibrate.py).

The text is a stream of blocks: each block is the whole word list in a seeded random order,
arranged in groups of four that take one word from each length class. Any run of the stream
therefore holds every word almost equally often and long and short words in balance, so its
token count is close to (words x tokens_per_word) on any tokenizer that splits on spaces, with
an error of a few words' worth however long or short the run. Inside one replay the text never
changes once sent, so prefix caching works; a different seed gives different text, and the
dynamic prefix at the very start already keeps caches from being shared across agents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .trajectory import TokenTurn

WORDS: tuple[str, ...] = (
    "time", "year", "people", "way", "day", "man", "thing", "world", "life", "hand",
    "part", "child", "eye", "place", "work", "week", "case", "point", "number", "group",
    "problem", "fact", "water", "room", "money", "story", "month", "book", "job", "word",
    "side", "kind", "head", "house", "service", "friend", "power", "hour", "game", "line",
    "end", "member", "law", "car", "city", "name", "team", "minute", "idea", "body",
    "back", "face", "level", "office", "door", "health", "person", "art", "history", "party",
    "result", "change", "morning", "reason", "research", "moment", "air", "force", "road", "food",
    "paper", "music", "market", "field", "table", "light", "river", "garden", "window", "letter",
    "plan", "voice", "stone", "summer", "winter", "train", "bridge", "picture", "answer", "model",
    "good", "new", "first", "last", "long", "great", "little", "small", "large", "next",
    "early", "young", "public", "able", "local", "open", "simple", "clear", "free", "full",
    "make", "take", "come", "look", "find", "give", "tell", "call", "keep", "start",
    "show", "hear", "play", "move", "live", "hold", "bring", "write",
)
BLOCK = len(WORDS)
GROUP = 4
_BY_LENGTH = sorted(WORDS, key=lambda w: (len(w), w))
_CLASSES = np.array(_BY_LENGTH, dtype=object).reshape(GROUP, BLOCK // GROUP)
"""The words in four length classes (shortest quarter first); a group takes one of each."""


def _stratified(rng: np.random.Generator, groups: int) -> list[str]:
    """`groups` groups of four words, one from each length class, in random order.

    Any run of the result holds long and short words in nearly equal measure, so its token count
    stays close to words x tokens_per_word even for runs much shorter than a block.
    """
    per_class = BLOCK // GROUP
    picks = np.stack([rng.permutation(per_class)[:groups] if groups <= per_class
                      else rng.integers(0, per_class, groups) for _ in range(GROUP)])
    order = rng.random((groups, GROUP)).argsort(axis=1)
    return [str(_CLASSES[c, picks[c, g]]) for g in range(groups) for c in order[g]]


@dataclass(frozen=True)
class Calibration:
    """Prompt tokens of a chat request made of filler text, as a linear model:

    tokens = base_overhead + per_message_overhead x messages + tokens_per_word x words

    `base_overhead` covers what the chat template adds once (BOS, default system text, the
    generation prompt); `per_message_overhead` the role markers around each message.
    """

    tokens_per_word: float
    per_message_overhead: float
    base_overhead: float
    fit_error: float = 0.0
    """Largest relative error seen while calibrating, held-out check included (0: not measured)."""
    probes: int = 0
    """Requests the calibration was fitted on (0: not fitted against a server)."""

    def estimate(self, messages: int, words: int) -> float:
        return self.base_overhead + self.per_message_overhead * messages + self.tokens_per_word * words

    def words_for(self, tokens: float, messages: int) -> int:
        """Total words that bring a request of `messages` messages to `tokens` prompt tokens."""
        fixed = self.base_overhead + self.per_message_overhead * messages
        return round((tokens - fixed) / self.tokens_per_word)


class FillerText:
    """A deterministic, endless stream of filler words; `seed` picks the stream."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._block: list[str] = []
        self._pos = 0

    def _next_block(self) -> None:
        self._block = _stratified(self._rng, BLOCK // GROUP)
        self._pos = 0

    def words(self, n: int) -> str:
        """The next `n` words of the stream, separated by single spaces."""
        out: list[str] = []
        while n > 0:
            if self._pos >= len(self._block):
                self._next_block()
            take = min(n, len(self._block) - self._pos)
            out.extend(self._block[self._pos : self._pos + take])
            self._pos += take
            n -= take
        return " ".join(out)

    def text(self, tokens: float, calibration: Calibration) -> str:
        """About `tokens` tokens of text (message overheads not included), at least one word."""
        return self.words(max(1, round(tokens / calibration.tokens_per_word)))


PREFIX_WORDS = 12


def dynamic_prefix(rng: np.random.Generator) -> str:
    """A short random marker for the start of one replay: 12 words, about 73 bits.

    Made of filler words (three groups of one word per length class), so its token count is
    covered by the calibration.
    """
    return " ".join(_stratified(rng, PREFIX_WORDS // GROUP))


class TokenConversation:
    """The growing conversation of one token-only replay.

    `advance(turn)` returns the messages for that turn, sized so that the prompt comes to about
    `turn.prompt_tokens` tokens:
    - the first turn (and any `compacted` turn) starts a new context: one user message that
      begins with the dynamic prefix;
    - every later turn keeps the context, appends an assistant message standing for the previous
      reply (its visible part: output minus reasoning tokens, shortened if the prompt leaves less
      room) and a user message with the rest;
    - a prompt smaller than the context (a harness that trimmed history) drops the latest
      assistant/user pairs until it fits, keeping the shared prefix; if even the first message
      is too large, the context restarts.
    Messages alternate user/assistant and always end with a user message.
    """

    def __init__(self, *, prefix: str, calibration: Calibration, seed: int) -> None:
        self.prefix = prefix
        self.cal = calibration
        self.filler = FillerText(seed)
        self._messages: list[dict[str, str]] = []
        self._words: list[int] = []
        self._prefix_words = len(prefix.split())
        self._carry = 0
        self.estimated_prompt_tokens = 0.0

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self._messages)

    def _restart(self, target: int) -> None:
        total = max(self._prefix_words + 1, self.cal.words_for(target, 1))
        body = self.filler.words(total - self._prefix_words)
        content = f"{self.prefix} {body}" if self.prefix else body
        self._messages = [{"role": "user", "content": content}]
        self._words = [total]

    def _append(self, target: int) -> None:
        while True:
            room = self.cal.words_for(target, len(self._messages) + 2) - sum(self._words)
            if room >= 2:
                break
            if len(self._messages) >= 3:
                del self._messages[-2:]
                del self._words[-2:]
                continue
            self._restart(target)
            return
        reply = min(max(1, round(self._carry / self.cal.tokens_per_word)), room - 1)
        rest = room - reply
        self._messages.append({"role": "assistant", "content": self.filler.words(reply)})
        self._messages.append({"role": "user", "content": self.filler.words(rest)})
        self._words += [reply, rest]

    def advance(self, turn: TokenTurn) -> list[dict[str, str]]:
        target = turn.prompt_tokens
        if turn.compacted or not self._messages:
            self._restart(target)
        else:
            self._append(target)
        self._carry = max(0, turn.output_tokens - turn.reasoning_tokens)
        self.estimated_prompt_tokens = self.cal.estimate(len(self._messages), sum(self._words))
        return list(self._messages)


def build_token_turn_messages(
    turns: Iterable[TokenTurn], *, prefix: str, calibration: Calibration, seed: int
) -> Iterator[list[dict[str, str]]]:
    """The messages of each turn of one token-only replay (see TokenConversation)."""
    conv = TokenConversation(prefix=prefix, calibration=calibration, seed=seed)
    for turn in turns:
        yield conv.advance(turn)
