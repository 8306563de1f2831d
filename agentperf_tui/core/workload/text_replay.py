"""Replaying a text trajectory: rebuild each turn's full conversation from the stored deltas."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .trajectory import ROOT, TextTurn, Trajectory, TrajectoryHeader
from .tree import tree_of

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
        yield _prefixed(context, prefix)


def _prefixed(context: list[ChatMessage], prefix: str) -> list[ChatMessage]:
    if prefix and context:
        return [with_prefix(context[0], prefix), *context[1:]]
    return list(context)


def tree_text_messages(traj: Trajectory, *, prefix: str = "") -> dict[str, list[list[ChatMessage]]]:
    """The messages to send for every turn of every node of a text trajectory (tree or linear).

    A sub-agent's context starts from what its node line names: the parent's conversation as sent
    at the forking turn ("parent"), the main agent's leading system/developer messages of its
    first turn ("system"), or nothing ("none"); its own turns then apply as usual. The dynamic
    prefix goes at the very start of every context, so all nodes of one replay share it.
    """
    sent: dict[str, list[list[ChatMessage]]] = {}
    contexts: dict[str, list[list[ChatMessage]]] = {}
    for node in tree_of(traj).walk():
        start: list[ChatMessage] = []
        if node.spec is not None and node.spec.context == "parent":
            start = contexts[node.spec.parent][node.spec.at_turn]
        elif node.spec is not None and node.spec.context == "system":
            first = contexts[ROOT][0]
            lead = [m.get("role") in ("system", "developer") for m in first]
            start = first[: lead.index(False) if False in lead else len(first)]
        context = list(start)
        mine: list[list[ChatMessage]] = []
        for turn in node.turns:
            assert isinstance(turn, TextTurn)
            context = apply_text_turn(context, turn)
            mine.append(context)
        contexts[node.id] = mine
        sent[node.id] = [_prefixed(c, prefix) for c in mine]
    return sent
