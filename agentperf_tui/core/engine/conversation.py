"""One replay of one trajectory: the growing conversation, turn by turn.

A replay starts with a dynamic prefix (a random marker new for every agent and every replay), so
no cache entry survives from another agent or run, while prefix reuse inside the replay works:
each turn's prompt is the previous turn's prompt plus what the trajectory appends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from agentperf_tui.core.workload.filler import Calibration, TokenConversation
from agentperf_tui.core.workload.trajectory import TextTurn, TokenTurn, Trajectory


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """What an agent sends for one turn, and what it waits after."""

    turn: int
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    output_tokens: int
    tool_delay_s: float
    think_time_s: float


def _with_prefix(messages: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    if messages and messages[0].get("role") == "system" and isinstance(messages[0].get("content"), str):
        first = dict(messages[0])
        first["content"] = f"{prefix}\n{first['content']}"
        return [first, *messages[1:]]
    return [{"role": "system", "content": prefix}, *messages]


def text_turns(traj: Trajectory, prefix: str) -> Iterator[TurnRequest]:
    """Turn requests of a text trajectory; each `messages` list is the whole conversation so far."""
    messages: list[dict[str, Any]] = []
    tools = traj.header.tools
    for turn in traj.turns:
        assert isinstance(turn, TextTurn)
        appended = [m.model_dump(exclude_none=True) for m in turn.append]
        if turn.compacted or not messages:
            messages = _with_prefix(appended, prefix)
        else:
            messages = [*messages, *appended]
        if turn.tools is not None:
            tools = turn.tools
        yield TurnRequest(
            turn=turn.i,
            messages=messages,
            tools=tools or None,
            output_tokens=turn.output_tokens,
            tool_delay_s=turn.tool_delay_s,
            think_time_s=turn.think_time_s,
        )


def token_turns(traj: Trajectory, prefix: str, calibration: Calibration, seed: int) -> Iterator[TurnRequest]:
    """Turn requests of a token-only trajectory, filled with calibrated generated text."""
    conv = TokenConversation(prefix=prefix, calibration=calibration, seed=seed)
    for turn in traj.turns:
        assert isinstance(turn, TokenTurn)
        messages = conv.advance(turn)
        yield TurnRequest(
            turn=turn.i,
            messages=messages,
            tools=None,
            output_tokens=turn.output_tokens,
            tool_delay_s=turn.tool_delay_s,
            think_time_s=turn.think_time_s,
        )


def replay_turns(
    traj: Trajectory, prefix: str, calibration: Calibration | None, seed: int
) -> Iterator[TurnRequest]:
    if traj.kind == "text":
        return text_turns(traj, prefix)
    if calibration is None:
        raise ValueError("token-only trajectories need a filler calibration against the server")
    return token_turns(traj, prefix, calibration, seed)
