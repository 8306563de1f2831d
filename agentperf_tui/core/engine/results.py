"""Turning a raw exchange into a RequestResult: the parse step, kept off the stream loop."""

from __future__ import annotations

from agentperf_tui.core.client.result import build_result
from agentperf_tui.core.engine.fleet import Exchange
from agentperf_tui.core.records import RequestResult


def to_result(ex: Exchange) -> RequestResult:
    return build_result(
        ex.raw,
        agent_id=ex.agent_id,
        trajectory_id=ex.trajectory_id,
        replay=ex.replay,
        turn=ex.turn,
        requested_output_tokens=ex.requested_output_tokens,
        node=ex.node,
    )
