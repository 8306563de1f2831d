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
from agentperf_tui.core.workload.text_replay import build_text_turn_messages, tools_for_turn
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


def text_turns(traj: Trajectory, prefix: str) -> Iterator[TurnRequest]:
    """Turn requests of a text trajectory; each `messages` list is the whole conversation so far."""
    turns = [t for t in traj.turns if isinstance(t, TextTurn)]
    for turn, messages in zip(turns, build_text_turn_messages(turns, prefix=prefix), strict=True):
        yield TurnRequest(
            turn=turn.i,
            messages=messages,
            tools=tools_for_turn(traj.header, turn),
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
