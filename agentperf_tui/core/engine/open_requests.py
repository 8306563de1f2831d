"""The requests in flight, as the search needs them: when each was due and whether (and when) its
first output came. The first output of a request is found once by parsing what it received so
far, then kept on its exchange.

A load hands them over a few times a second, thousands at a time: in columns (`OpenBatch`), a few
arrays to pickle instead of an object per request, turned into `OpenRequest` records only when
the search asks for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agentperf_tui.core.client.sse import first_output_time
from agentperf_tui.core.engine.fleet import Exchange
from agentperf_tui.core.search.window import OpenRequest


@dataclass(frozen=True, slots=True)
class OpenBatch:
    """Requests in flight, one row each (times on the clock of the load that took them)."""

    agent: NDArray[np.int64]
    t_intended: NDArray[np.float64]
    t_first_token: NDArray[np.float64]
    """NaN: no output yet."""
    requested_tokens: NDArray[np.int64]
    replay: NDArray[np.int64]
    turn: NDArray[np.int64]
    trajectory: tuple[str, ...]
    node: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.trajectory)

    @staticmethod
    def empty() -> OpenBatch:
        return _batch((), (), (), (), (), (), (), ())

    def shifted(self, offset: float) -> OpenBatch:
        """The same requests with their times moved by `offset` (onto another clock)."""
        if offset == 0.0:
            return self
        return OpenBatch(
            self.agent, self.t_intended + offset, self.t_first_token + offset, self.requested_tokens,
            self.replay, self.turn, self.trajectory, self.node,
        )  # fmt: skip

    def requests(self) -> list[OpenRequest]:
        rows = zip(
            self.agent.tolist(), self.t_intended.tolist(), self.t_first_token.tolist(),
            self.requested_tokens.tolist(), self.trajectory, self.replay.tolist(), self.node,
            self.turn.tolist(), strict=True,
        )  # fmt: skip
        return [
            OpenRequest(a, ti, None if math.isnan(tf) else tf, req, traj, rep, node, turn)
            for a, ti, tf, req, traj, rep, node, turn in rows
        ]


def open_batch(exchanges: list[Exchange]) -> OpenBatch:
    """The requests in flight among `exchanges`, in columns."""
    rows = []
    for ex in exchanges:
        t = ex.t_first_output
        if t is None:
            raw = ex.raw
            if raw.chunks:
                t = ex.t_first_output = first_output_time(list(raw.chunks), list(raw.times))
        rows.append((
            ex.agent_id, ex.raw.t_intended, math.nan if t is None else t, ex.requested_output_tokens,
            ex.replay, ex.turn, ex.trajectory_id, ex.node,
        ))  # fmt: skip
    if not rows:
        return OpenBatch.empty()
    agent, t_intended, t_first, requested, replay, turn, trajectory, node = zip(*rows, strict=True)
    return _batch(agent, t_intended, t_first, requested, replay, turn, trajectory, node)


def _batch(
    agent: Sequence[int],
    t_intended: Sequence[float],
    t_first: Sequence[float],
    requested: Sequence[int],
    replay: Sequence[int],
    turn: Sequence[int],
    trajectory: Sequence[str],
    node: Sequence[str],
) -> OpenBatch:
    return OpenBatch(
        np.array(agent, dtype=np.int64), np.array(t_intended, dtype=np.float64),
        np.array(t_first, dtype=np.float64), np.array(requested, dtype=np.int64),
        np.array(replay, dtype=np.int64), np.array(turn, dtype=np.int64), tuple(trajectory), tuple(node),
    )  # fmt: skip
