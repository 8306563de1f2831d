"""OpenRequests: what the search sees of the requests in flight."""

from __future__ import annotations

from agentperf_tui.core.engine.fleet import Exchange
from agentperf_tui.core.engine.open_requests import OpenRequests
from agentperf_tui.core.records import RawExchange

ROLE = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
TOKEN = b'data: {"choices":[{"index":0,"delta":{"content":" w"}}]}\n\n'


def exchange(agent: int, t_intended: float) -> Exchange:
    return Exchange(RawExchange(t_intended=t_intended), agent, "traj", 0, 2, 16)


def receive(ex: Exchange, t: float, data: bytes) -> None:
    ex.raw.times.append(t)
    ex.raw.chunks.append(data)


def test_first_output_is_found_when_it_comes_and_kept() -> None:
    opens = OpenRequests()
    a, b = exchange(1, 10.0), exchange(2, 11.0)
    first = opens.of([a, b])
    assert [(o.agent_id, o.t_intended, o.t_first_token) for o in first] == [(1, 10.0, None), (2, 11.0, None)]
    receive(a, 10.5, ROLE)  # no output yet
    receive(b, 11.2, TOKEN[:20])  # half an event
    assert [o.t_first_token for o in opens.of([a, b])] == [None, None]
    receive(a, 10.7, TOKEN)
    receive(b, 11.3, TOKEN[20:])
    again = opens.of([a, b])
    assert [o.t_first_token for o in again] == [10.7, 11.3]
    receive(a, 10.9, TOKEN)
    later = opens.of([a, b])
    assert later[0] is again[0] and later[0].t_first_token == 10.7  # kept, not parsed again
    assert later[0].key == (1, "traj", 0, "root", 2)


def test_a_finished_request_is_forgotten_and_offsets_apply() -> None:
    opens = OpenRequests()
    a, b = exchange(1, 10.0), exchange(2, 11.0)
    receive(a, 10.5, TOKEN)
    receive(b, 11.5, TOKEN)
    opens.of([a, b])
    assert [o.agent_id for o in opens.of([b])] == [2]
    shifted = opens.of([a, b], offset=100.0)
    assert [(o.t_intended, o.t_first_token) for o in shifted] == [(110.0, 110.5), (111.0, 111.5)]
    assert [o.t_first_token for o in opens.of([a, b])] == [10.5, 11.5]
