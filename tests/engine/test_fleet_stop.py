"""Stopping the agents: every request in flight is handed over, as open at the end, or as finished
when its whole reply had arrived before its task could hand it over."""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentperf_tui.core.client.sse import parse_stream
from agentperf_tui.core.engine.fleet import Exchange, Fleet, TrajectoryDone
from agentperf_tui.core.records import RawExchange
from agentperf_tui.core.workload.filler import Calibration
from agentperf_tui.core.workload.trajectory import load_set

COMPLETE = [
    b'data: {"choices": [{"index": 0, "delta": {"content": " a"}, "finish_reason": null}]}\n\n',
    b'data: {"choices": [{"index": 0, "delta": {"content": " b"}, "finish_reason": "length"}]}\n\n'
    b'data: {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}\n\n',
    b"data: [DONE]\n\n",
]


class HeldStreams:
    """Stands in for the client at the moment a run stops: agent k's request has received
    `replies[k]` and its task has not handed it over yet (it is cancelled there)."""

    def __init__(self, replies: list[list[bytes]]) -> None:
        self.replies = replies
        self.sent = 0
        self.all_sent = asyncio.Event()

    async def stream(self, path: str, body: bytes, t_intended: float, clock: Callable[[], float], *,
                     into: RawExchange) -> RawExchange:
        into.t_sent = clock()
        reply = self.replies[self.sent]
        self.sent += 1
        if reply:
            into.status = 200
            for chunk in reply:
                into.chunks.append(chunk)
                into.times.append(clock())
        if self.sent == len(self.replies):
            self.all_sent.set()
        await asyncio.get_running_loop().create_future()
        return into


def _trajectories(folder: Path) -> Any:
    folder.mkdir()
    (folder / "t.jsonl").write_text(
        '{"format": "agentperf-traj/1", "id": "t", "kind": "tokens"}\n'
        '{"i": 0, "new_input_tokens": 50, "output_tokens": 2, "tool_delay_s": 0.1}\n'
    )
    return load_set(folder)


async def test_stop_hands_over_every_request_in_flight_as_what_it_was(tmp_path: Path) -> None:
    streams = HeldStreams([COMPLETE, COMPLETE[:2], []])
    out: queue.SimpleQueue[Exchange | TrajectoryDone] = queue.SimpleQueue()
    t0 = time.perf_counter()
    fleet = Fleet(
        client=streams,  # type: ignore[arg-type]
        path="/v1/chat/completions", body=lambda req: b"{}", trajectories=_trajectories(tmp_path / "t"),
        calibration=Calibration(tokens_per_word=1.3, per_message_overhead=4.0, base_overhead=3.0),
        clock=lambda: time.perf_counter() - t0, out=out, seed=0,
    )  # fmt: skip
    fleet.set_target(3, spread_s=0.0)
    await asyncio.wait_for(streams.all_sent.wait(), timeout=5)
    await fleet.stop()
    handed: list[Exchange] = []
    while not out.empty():
        item = out.get_nowait()
        assert isinstance(item, Exchange)
        handed.append(item)
    assert len(handed) == 3
    by_bytes = {len(ex.raw.chunks): ex.raw for ex in handed}
    # the whole reply was in: a finished request, ended at its last byte
    done = by_bytes[3]
    assert done.failure is None and done.error is None and done.t_end == done.times[-1]
    assert parse_stream(done).ok
    # half a reply, and no reply at all: still open when the run stopped
    for raw in (by_bytes[2], by_bytes[0]):
        assert raw.failure == "open_at_end" and raw.error == "still open when the run stopped"
