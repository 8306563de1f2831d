"""Turn a recorded exchange into the `RequestResult` that metrics, search and the store use."""

from __future__ import annotations

from agentperf_tui.core.client.sse import ParsedStream, parse_stream
from agentperf_tui.core.records import RawExchange, RequestResult


def build_result(
    raw: RawExchange,
    *,
    agent_id: int,
    trajectory_id: str,
    replay: int,
    turn: int,
    requested_output_tokens: int,
    node: str = "root",
    parsed: ParsedStream | None = None,
) -> RequestResult:
    """Parse `raw` (unless already `parsed`) and fill a `RequestResult`; failures keep their error."""
    p = parse_stream(raw) if parsed is None else parsed
    return RequestResult(
        agent_id=agent_id,
        trajectory_id=trajectory_id,
        replay=replay,
        turn=turn,
        t_intended=raw.t_intended,
        t_sent=raw.t_sent,
        t_end=raw.t_end,
        ok=p.ok,
        t_first_token=p.t_first_token,
        t_last_token=p.t_last_token,
        error=p.error,
        http_status=p.http_status,
        prompt_tokens=p.prompt_tokens,
        cached_tokens=p.cached_tokens,
        output_tokens=p.output_tokens,
        client_output_tokens=p.client_output_tokens,
        requested_output_tokens=requested_output_tokens,
        reasoning_tokens=p.reasoning_tokens,
        failure=p.failure,
        node=node,
    )
