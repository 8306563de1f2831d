"""What an agent sends for one turn, and the turns of a token-only replay.

A replay starts with a dynamic prefix (a random marker new for every agent and every replay), so
no cache entry survives from another agent or run, while prefix reuse inside the replay works:
each turn's prompt is the previous turn's prompt plus what the trajectory appends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from agentperf_tui.core.workload.filler import Calibration, TokenConversation
from agentperf_tui.core.workload.text_replay import ChatMessage
from agentperf_tui.core.workload.trajectory import TokenTurn, Trajectory


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """What an agent sends for one turn, and what it waits after."""

    turn: int
    messages: list[ChatMessage]
    """The whole conversation so far. Never changed: a text trajectory's lists are shared by every
    agent replaying it."""
    tools: list[dict[str, Any]] | None
    output_tokens: int
    tool_delay_s: float
    think_time_s: float
    prefix: str | None = None
    """The dynamic prefix the body puts at the start of the first message, when `messages` are a
    text trajectory's own (shared, without it); None when they are this replay's own and carry it
    already (token-only filler)."""


def token_turns(traj: Trajectory, prefix: str, calibration: Calibration, seed: int) -> Iterator[TurnRequest]:
    """Turn requests of a linear token-only trajectory, filled with calibrated generated text."""
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
