"""Turning a raw exchange into a RequestResult: the parse step, kept off the stream loop."""

from __future__ import annotations

import math

from agentperf_tui.core.client.sse import parse_stream
from agentperf_tui.core.engine.fleet import Exchange
from agentperf_tui.core.records import RequestResult


def to_result(ex: Exchange) -> RequestResult:
    raw = ex.raw
    p = parse_stream(raw)
    t_end = raw.t_end if not math.isnan(raw.t_end) else (raw.times[-1] if raw.times else raw.t_sent)
    return RequestResult(
        agent_id=ex.agent_id,
        trajectory_id=ex.trajectory_id,
        replay=ex.replay,
        turn=ex.turn,
        t_intended=raw.t_intended,
        t_sent=raw.t_sent,
        t_end=t_end,
        ok=p.ok,
        t_first_token=p.t_first_token,
        t_last_token=p.t_last_token,
        error=p.error,
        http_status=p.http_status,
        prompt_tokens=p.prompt_tokens,
        cached_tokens=p.cached_tokens,
        output_tokens=p.output_tokens,
        client_output_tokens=p.client_output_tokens,
        requested_output_tokens=ex.requested_output_tokens,
        reasoning_tokens=p.reasoning_tokens,
    )
