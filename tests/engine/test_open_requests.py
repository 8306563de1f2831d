"""The requests in flight as a load hands them over: in columns, first outputs found once, moved
onto another clock, pickled across a process boundary and turned back into records."""

from __future__ import annotations

import pickle
import queue

import pytest

from agentperf_tui.core.engine import load
from agentperf_tui.core.engine.fleet import AgentCounts, Census, Exchange, TrajectoryDone
from agentperf_tui.core.engine.load import Handover, LoadReport
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


DONE = b'data: {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 1}}\n\ndata: [DONE]\n\n'


def _finished(agent: int) -> Exchange:
    ex = _exchange(agent, float(agent), [(agent + 0.2, TOKEN), (agent + 0.3, DONE)])
    ex.raw.t_end = agent + 0.3
    return ex


def test_a_burst_of_finished_requests_is_parsed_over_several_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Within its parse budget a poll parses what it can; the rest is handed over as still in
    flight, so no request is ever missing from a report, and parsed at a later poll, or at once
    once it has waited PARSE_WAIT_S, or when the agents have stopped."""
    monkeypatch.setattr(load, "PARSE_BUDGET_S", 0.0)  # one request a poll
    now = [0.0]
    out: queue.SimpleQueue[Exchange | TrajectoryDone] = queue.SimpleQueue()
    handover = Handover(out, lambda: now[0])
    streaming = _exchange(9, 9.0, [(9.1, TOKEN)])
    census = Census(AgentCounts(4, 0, 1, 3), 4, [streaming])
    for agent in (1, 2):
        out.put(_finished(agent))
    out.put(TrajectoryDone(2, 0.0, 2.3))
    out.put(_finished(3))

    def seen(report: LoadReport) -> tuple[list[int], list[int], list[int]]:
        return ([r.agent_id for r in report.results], [o.agent_id for o in report.open_requests()],
                [d.agent_id for d in report.done])

    first = handover.report(census)
    assert seen(first) == ([1], [9, 2, 3], [])
    assert first.open_requests()[1] == OpenRequest(2, 2.0, 2.2, 64, "traj-a", 2, "root", 5)
    assert seen(handover.report(census)) == ([2], [9, 3], [])
    assert seen(handover.report(census)) == ([], [9, 3], [2])  # the trajectory's end after its request
    assert seen(handover.report(census)) == ([3], [9], [])
    for agent in (4, 5, 6):
        out.put(_finished(agent))
    assert seen(handover.report(census)) == ([4], [9, 5, 6], [])
    now[0] = load.PARSE_WAIT_S
    out.put(_finished(7))
    assert seen(handover.report(census)) == ([5, 6], [9, 7], [])  # waited long enough: parsed anyway
    out.put(_finished(8))
    assert seen(handover.report(census, everything=True)) == ([7, 8], [9], [])
