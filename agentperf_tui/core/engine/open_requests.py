"""The requests in flight, as the search needs them: when each was due and whether (and when) its
first output came. The first output of a request is found once by parsing what it received so
far, then kept."""

from __future__ import annotations

from agentperf_tui.core.client.sse import first_output_time
from agentperf_tui.core.engine.fleet import Exchange
from agentperf_tui.core.search.window import OpenRequest


class OpenRequests:
    def __init__(self) -> None:
        self._first: dict[int, float] = {}

    def of(self, exchanges: list[Exchange], offset: float = 0.0) -> list[OpenRequest]:
        """OpenRequest records of `exchanges` (times shifted by `offset`)."""
        seen: dict[int, float] = {}
        out = []
        for ex in exchanges:
            raw = ex.raw
            key = id(raw)
            t_first = self._first.get(key)
            if t_first is None and raw.chunks:
                t_first = first_output_time(list(raw.chunks), list(raw.times))
            if t_first is not None:
                seen[key] = t_first
            out.append(
                OpenRequest(
                    ex.agent_id,
                    raw.t_intended + offset,
                    None if t_first is None else t_first + offset,
                    ex.requested_output_tokens,
                    ex.trajectory_id,
                    ex.replay,
                    ex.node,
                    ex.turn,
                )
            )
        self._first = seen
        return out
