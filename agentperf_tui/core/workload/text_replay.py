"""Replaying a text trajectory: rebuild each turn's full conversation from the stored deltas."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .trajectory import TextTurn, TrajectoryHeader

ChatMessage = dict[str, Any]


def apply_text_turn(context: Sequence[ChatMessage], turn: TextTurn) -> list[ChatMessage]:
    """The conversation sent for `turn`, given the one sent for the previous turn.

    Compaction replaces the context; otherwise `drop_last` trailing messages go and `append` is added.
    Messages come out exactly as recorded (keys that were absent stay absent).
    """
    new = [m.model_dump(exclude_unset=True) for m in turn.append]
    if turn.compacted:
        return new
    if turn.drop_last > len(context):
        raise ValueError(
            f"turn {turn.i}: drop_last={turn.drop_last} but the conversation has only {len(context)} messages"
        )
    return [*context[: len(context) - turn.drop_last], *new]


def tools_for_turn(header: TrajectoryHeader, turn: TextTurn) -> list[dict[str, Any]] | None:
    """Tool definitions to send with this turn: the turn's own when it has them, else the header's."""
    tools = turn.tools if turn.tools is not None else header.tools
    return tools or None


def with_prefix(message: ChatMessage, prefix: str) -> ChatMessage:
    """A copy of `message` whose content starts with the dynamic prefix."""
    content = message.get("content")
    out = dict(message)
    if content is None:
        out["content"] = prefix
    elif isinstance(content, str):
        out["content"] = f"{prefix}\n\n{content}"
    else:
        out["content"] = [{"type": "text", "text": prefix}, *content]
    return out


def build_text_turn_messages(turns: Iterable[TextTurn], *, prefix: str = "") -> Iterator[list[ChatMessage]]:
    """The messages to send for each turn of one replay, the dynamic prefix put at the very start.

    The prefix goes into the first message of every context (again after a compaction), so it
    is the first thing the server sees; everything after it is identical from turn to turn,
    which lets prefix caching work inside the replay.
    """
    context: list[ChatMessage] = []
    for turn in turns:
        context = apply_text_turn(context, turn)
        if prefix and context:
            yield [with_prefix(context[0], prefix), *context[1:]]
        else:
            yield list(context)
