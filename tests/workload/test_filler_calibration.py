"""Filler text, calibration against a server's token counter, and token-turn message building."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agentperf_tui.core.simulator.tokenizer import count_chat
from agentperf_tui.core.workload.calibrate import CalibrationError, calibrate
from agentperf_tui.core.workload.filler import (
    PREFIX_WORDS,
    WORDS,
    Calibration,
    FillerText,
    TokenConversation,
    build_token_turn_messages,
    dynamic_prefix,
)
from agentperf_tui.core.workload.importers.tracelab import import_tracelab
from agentperf_tui.core.workload.synth import PRESETS, synth_set
from agentperf_tui.core.workload.trajectory import TokenTurn, load_set

Counter = Callable[[list[dict[str, Any]]], int]

# --- a subword tokenizer with a ChatML template, standing in for a real server's counter ---------
_PIECE_TEXT = """
    the ing ion tion er re an on in en at es or te ed ti is it al ar st to nt ng se ha as ou io le
    ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur ca el ta la ns di fo ho pe ec pr no
    ct us ac ot il tr ly nc et ut ss so rs un lo wa ge ie wh ee wi em ad ol rt po we na ul ni ts mo
    ow pa im mi ai sh ir su id os iv ia am fi ci vi pl ig tu ev ld ry mp fe bl ab gh ty op wo sa ay
    ex ke fr oo av ag if ap gr od bo sp rd do uc bu ei ov by rm ep tt oc fa ef cu rn sc gi da yo cl
    du ga qu ue ff ba ey ls va um pp ua ug ki time year people way work world life hand part place
    case point group water room money story month book word side kind head house power hour game
    line
"""
_PIECES = frozenset(_PIECE_TEXT.split())
_SPACE_MERGED = frozenset(WORDS[:40])  # common words carry their leading space in one token


@lru_cache(maxsize=4096)
def _word_tokens(word: str) -> int:
    n, i = 0, 0
    while i < len(word):
        for size in (5, 4, 3, 2):
            if word[i : i + size] in _PIECES:
                i += size
                break
        else:
            i += 1
        n += 1
    return n


def chatml_subword(messages: Sequence[dict[str, Any]]) -> int:
    """<s> + per message <|im_start|>role\\n content <|im_end|>\\n + <|im_start|>assistant\\n."""
    n = 1 + 3
    for m in messages:
        n += 5
        for k, w in enumerate(str(m["content"]).split(" ")):
            n += 1 if (k and w in _SPACE_MERGED) else _word_tokens(w) + (1 if k else 0)
    return n


COUNTERS: dict[str, Counter] = {"simulator-bytes": count_chat, "chatml-subword": chatml_subword}


def _calibrate(counter: Counter, **kw: Any) -> Calibration:
    async def count(messages: list[dict[str, Any]]) -> int:
        return counter(messages)

    return asyncio.run(calibrate(count, **kw))


def _check_replay(
    counter: Counter, cal: Calibration, trajectories: list[list[TokenTurn]], seed: int
) -> float:
    """Replay each trajectory's messages through the counter; return the worst relative error."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for turns in trajectories:
        prefix = dynamic_prefix(rng)
        seed_k = int(rng.integers(2**32))
        sent = list(build_token_turn_messages(turns, prefix=prefix, calibration=cal, seed=seed_k))
        for turn, messages in zip(turns, sent, strict=True):
            got = counter(messages)
            worst = max(worst, abs(got - turn.prompt_tokens) / turn.prompt_tokens)
    return worst


# --- filler text and prefix ------------------------------------------------------------------------


def test_filler_stream_is_deterministic_and_continuous() -> None:
    a = FillerText(7).words(700)
    split = FillerText(7)
    assert f"{split.words(300)} {split.words(400)}" == a
    assert FillerText(8).words(700) != a
    words = a.split(" ")
    assert len(words) == 700 and set(words) <= set(WORDS)
    # every block of len(WORDS) words holds each word exactly once
    block = len(WORDS)
    assert sorted(words[block : 2 * block]) == sorted(WORDS)


def test_filler_text_size() -> None:
    cal = Calibration(tokens_per_word=1.25, per_message_overhead=4, base_overhead=3)
    assert len(FillerText(1).text(1000, cal).split()) == 800
    assert len(FillerText(1).text(0, cal).split()) == 1


def test_dynamic_prefix_is_new_per_draw_and_reproducible() -> None:
    rng = np.random.default_rng(5)
    prefixes = [dynamic_prefix(rng) for _ in range(200)]
    assert len(set(prefixes)) == 200
    assert all(len(p.split()) == PREFIX_WORDS for p in prefixes)
    assert dynamic_prefix(np.random.default_rng(5)) == prefixes[0]


# --- calibration -----------------------------------------------------------------------------------


def test_calibration_recovers_an_exactly_linear_counter() -> None:
    def linear(messages: Sequence[dict[str, Any]]) -> int:
        return 11 + 6 * len(messages) + round(1.5 * sum(len(str(m["content"]).split()) for m in messages))

    cal = _calibrate(linear)
    assert cal.tokens_per_word == pytest.approx(1.5, abs=1e-3)
    assert cal.per_message_overhead == pytest.approx(6, abs=0.05)
    assert cal.base_overhead == pytest.approx(11, abs=0.3)
    assert cal.fit_error < 0.002 and cal.probes == 6


@pytest.mark.parametrize("name", sorted(COUNTERS))
def test_calibrated_replay_is_within_2_percent(name: str) -> None:
    counter = COUNTERS[name]
    cal = _calibrate(counter)
    assert cal.fit_error < 0.01
    quick = [turns for _, turns in synth_set(3, 16, PRESETS["quick"])]
    default = [turns for _, turns in synth_set(3, 6, PRESETS["default"])]
    assert _check_replay(counter, cal, quick, seed=1) <= 0.02
    assert _check_replay(counter, cal, default, seed=2) <= 0.02


def test_calibrated_replay_of_real_tracelab_sessions(tracelab_rounds: Path, tmp_path: Path) -> None:
    import_tracelab(tracelab_rounds, tmp_path)
    sessions = [[t for t in traj.turns if isinstance(t, TokenTurn)] for traj in load_set(tmp_path)]
    for counter in COUNTERS.values():
        assert _check_replay(counter, _calibrate(counter), sessions, seed=3) <= 0.02


def test_probe_size_can_be_bounded() -> None:
    seen: list[int] = []

    def counter(messages: Sequence[dict[str, Any]]) -> int:
        seen.append(sum(len(str(m["content"]).split()) for m in messages))
        return count_chat(messages)

    cal = _calibrate(counter, max_probe_words=256)
    assert max(seen) <= 256 * 1.3
    assert cal.fit_error < 0.02


def test_calibration_rejects_counts_that_make_no_sense() -> None:
    for constant in (2, 500):
        with pytest.raises(CalibrationError, match="do not grow"):
            _calibrate(lambda messages: constant)  # noqa: B023 (called before the loop moves on)
    with pytest.raises(CalibrationError, match="do not grow"):  # len() of a dict of ids and mask
        _calibrate(lambda messages: 2 + len(messages) % 2)
    with pytest.raises(CalibrationError, match="prompt tokens"):
        _calibrate(lambda messages: 0)


def test_fit_error_reports_a_counter_the_model_cannot_follow() -> None:
    def quadratic(messages: Sequence[dict[str, Any]]) -> int:
        w = sum(len(str(m["content"]).split()) for m in messages)
        return 10 + w + w * w // 400

    assert _calibrate(quadratic).fit_error > 0.05


# --- message building --------------------------------------------------------------------------------


CAL = Calibration(tokens_per_word=1.4, per_message_overhead=4.0, base_overhead=3.0)


def _turn(i: int, prompt: int, prefix: int, out: int = 100, **kw: Any) -> TokenTurn:
    return TokenTurn(
        i=i, new_input_tokens=prompt - prefix, cached_prefix_tokens=prefix, output_tokens=out, **kw
    )


def test_messages_alternate_and_each_turn_extends_the_previous() -> None:
    _, turns = next(synth_set(4, 1, PRESETS["default"]))
    sent = list(build_token_turn_messages(turns, prefix="alpha beta", calibration=CAL, seed=1))
    for messages in sent:
        roles = [m["role"] for m in messages]
        assert roles[0] == "user" and roles[-1] == "user"
        assert all(a != b for a, b in itertools.pairwise(roles))
        assert messages[0]["content"].startswith("alpha beta ")
    for a, b in itertools.pairwise(sent):
        assert b[: len(a)] == a  # stable text: the server can reuse the cached prefix
    assert sent == list(build_token_turn_messages(turns, prefix="alpha beta", calibration=CAL, seed=1))
    assert sent[1] != list(build_token_turn_messages(turns, prefix="alpha beta", calibration=CAL, seed=2))[1]


def test_assistant_message_stands_for_the_previous_visible_reply() -> None:
    conv = TokenConversation(prefix="p", calibration=CAL, seed=0)
    conv.advance(_turn(0, 2000, 0, out=700, reasoning_tokens=280))
    messages = conv.advance(_turn(1, 3500, 2420))
    assert len(messages) == 3 and messages[1]["role"] == "assistant"
    assert len(messages[1]["content"].split()) == round(420 / 1.4)
    # estimate of the whole prompt lands on the target
    assert conv.estimated_prompt_tokens == pytest.approx(3500, abs=1.0)


def test_small_growth_shortens_the_assistant_message() -> None:
    conv = TokenConversation(prefix="p", calibration=CAL, seed=0)
    conv.advance(_turn(0, 2000, 0, out=900))
    messages = conv.advance(_turn(1, 2100, 2000))
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert conv.estimated_prompt_tokens == pytest.approx(2100, abs=1.0)


def test_shrinking_prompt_drops_latest_pairs_and_keeps_the_prefix() -> None:
    conv = TokenConversation(prefix="p", calibration=CAL, seed=0)
    first = conv.advance(_turn(0, 2000, 0))
    conv.advance(_turn(1, 3000, 2100))
    conv.advance(_turn(2, 4000, 3100))
    messages = conv.advance(_turn(3, 3000, 2900))  # the harness trimmed history
    assert messages[0] == first[0] and len(messages) in (3, 5)
    assert conv.estimated_prompt_tokens == pytest.approx(3000, abs=1.0)
    smaller = conv.advance(_turn(4, 1500, 1000))  # smaller than the first message: restart
    assert len(smaller) == 1 and smaller[0] != first[0] and smaller[0]["content"].startswith("p ")
    assert conv.estimated_prompt_tokens == pytest.approx(1500, abs=1.0)


def test_compaction_restarts_the_context_with_the_same_prefix() -> None:
    conv = TokenConversation(prefix="marker words", calibration=CAL, seed=0)
    conv.advance(_turn(0, 5000, 0))
    grown = conv.advance(_turn(1, 8000, 5100))
    compacted = conv.advance(_turn(2, 6000, 1000, compacted=True))
    assert len(grown) == 3 and len(compacted) == 1
    assert compacted[0]["content"].startswith("marker words ") and compacted[0] != grown[0]
    assert conv.estimated_prompt_tokens == pytest.approx(6000, abs=1.0)


def test_building_a_131k_context_is_cheap_enough_to_do_inline() -> None:
    cal = _calibrate(count_chat)
    conv = TokenConversation(prefix=dynamic_prefix(np.random.default_rng(0)), calibration=cal, seed=0)
    messages = conv.advance(_turn(0, 131_000, 0))
    assert abs(count_chat(messages) - 131_000) / 131_000 < 0.005
    assert math.isclose(conv.estimated_prompt_tokens, 131_000, abs_tol=1.0)
