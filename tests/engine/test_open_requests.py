"""The requests in flight as a load hands them over: in columns, first outputs found once, moved
onto another clock, pickled across a process boundary and turned back into records."""

from __future__ import annotations

import pickle

from agentperf_tui.core.engine.fleet import Exchange
from agentperf_tui.core.engine.open_requests import OpenBatch, open_batch
from agentperf_tui.core.records import RawExchange
from agentperf_tui.core.search.window import OpenRequest

ROLE = b'data: {"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}]}\n\n'
TOKEN = b'data: {"choices": [{"index": 0, "delta": {"content": " a"}, "finish_reason": null}]}\n\n'


def _exchange(agent: int, t: float, chunks: list[tuple[float, bytes]], node: str = "root") -> Exchange:
    raw = RawExchange(t_intended=t, t_sent=t)
    if chunks:
        raw.status = 200
    for when, data in chunks:
        raw.times.append(when)
        raw.chunks.append(data)
    return Exchange(raw, agent, "traj-a", replay=2, turn=5, requested_output_tokens=64, node=node)


def test_columns_first_outputs_and_records() -> None:
    waiting = _exchange(1, 10.0, [])
    role_only = _exchange(2, 11.0, [(11.2, ROLE)])
    streaming = _exchange(3, 12.0, [(12.1, ROLE), (12.3, TOKEN), (12.4, TOKEN)], node="helper")
    batch = open_batch([waiting, role_only, streaming])
    assert len(batch) == 3
    assert batch.requests() == [
        OpenRequest(1, 10.0, None, 64, "traj-a", 2, "root", 5),
        OpenRequest(2, 11.0, None, 64, "traj-a", 2, "root", 5),
        OpenRequest(3, 12.0, 12.3, 64, "traj-a", 2, "helper", 5),
    ]
    # found once, then kept on the exchange: a later poll does not parse it again
    assert streaming.t_first_output == 12.3 and waiting.t_first_output is None
    streaming.raw.chunks.clear()
    assert open_batch([streaming]).requests()[0].t_first_token == 12.3
    # a token arriving later is found at the next poll
    role_only.raw.times.append(11.5)
    role_only.raw.chunks.append(TOKEN)
    assert open_batch([role_only]).requests()[0].t_first_token == 11.5


def test_another_clock_and_a_process_boundary() -> None:
    batch = open_batch([_exchange(1, 10.0, []), _exchange(2, 11.0, [(11.25, TOKEN)])])
    moved = pickle.loads(pickle.dumps(batch.shifted(100.0)))
    assert [(o.agent_id, o.t_intended, o.t_first_token) for o in moved.requests()] == [
        (1, 110.0, None),
        (2, 111.0, 111.25),
    ]
    assert batch.shifted(0.0) is batch
    assert open_batch([]).requests() == [] and len(OpenBatch.empty()) == 0
