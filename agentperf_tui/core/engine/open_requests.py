"""The requests in flight, as the search needs them: when each was due and whether (and when) its
first output came. The first output of a request is found by parsing what it received so far,
until it has come; from then on the request's record no longer changes and is kept."""

from __future__ import annotations

from agentperf_tui.core.client.sse import first_output_time
from agentperf_tui.core.engine.fleet import Exchange
from agentperf_tui.core.records import RawExchange
from agentperf_tui.core.search.window import OpenRequest


class OpenRequests:
    def __init__(self) -> None:
        self._done: dict[int, tuple[RawExchange, OpenRequest]] = {}
        """Requests whose first output came, by exchange (held, so its id is not reused)."""
        self._offset = 0.0

    def of(self, exchanges: list[Exchange], offset: float = 0.0) -> list[OpenRequest]:
        """OpenRequest records of `exchanges` (times shifted by `offset`)."""
        done = self._done if offset == self._offset else {}
        self._offset = offset
        kept: dict[int, tuple[RawExchange, OpenRequest]] = {}
        out = []
        for ex in exchanges:
            raw = ex.raw
            key = id(raw)
            known = done.get(key)
            if known is not None:
                o = known[1]
            else:
                t_first = first_output_time(raw.chunks, raw.times) if raw.chunks else None
                o = OpenRequest(
                    ex.agent_id,
                    raw.t_intended + offset,
                    None if t_first is None else t_first + offset,
                    ex.requested_output_tokens,
                    ex.trajectory_id,
                    ex.replay,
                    ex.node,
                    ex.turn,
                )
            if o.t_first_token is not None:
                kept[key] = (raw, o)
            out.append(o)
        self._done = kept
        return out
