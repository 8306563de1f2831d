"""`ResultColumns`: finished requests kept as packed numpy rows, about 70 bytes each.

A long run at high concurrency finishes millions of requests; a `RequestResult` object costs
several hundred bytes, a row here 69. Times are kept as `t_intended` (float64, run clock) plus
float32 offsets from it (precise to about 40 us over ten minutes), token counts as int32 with -1
for "not reported", trajectory ids and error texts as indexes into small tables. Rows live in
fixed-size blocks, so appending never copies what is already stored.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agentperf_tui.core.records import RequestResult

ROW = np.dtype(
    [
        ("agent_id", "<u4"),
        ("trajectory", "<u4"),
        ("replay", "<u4"),
        ("turn", "<u4"),
        ("t_intended", "<f8"),
        ("lag", "<f4"),
        ("ttft", "<f4"),
        ("decode", "<f4"),
        ("end", "<f4"),
        ("prompt_tokens", "<i4"),
        ("cached_tokens", "<i4"),
        ("output_tokens", "<i4"),
        ("client_output_tokens", "<i4"),
        ("requested_output_tokens", "<i4"),
        ("reasoning_tokens", "<i4"),
        ("http_status", "<u2"),
        ("error", "<u2"),
        ("ok", "u1"),
    ]
)
"""One packed row: `lag` = t_sent - t_intended, `ttft` = t_first_token - t_intended (inf when
failed), `decode` = t_last_token - t_first_token (nan when absent), `end` = t_end - t_intended;
`error` indexes `errors` (0 = none), `trajectory` indexes `trajectories`."""

BLOCK_ROWS = 65536


def _count(value: int | None) -> int:
    return -1 if value is None else value


def _uncount(value: Any) -> int | None:
    return None if value < 0 else int(value)


class ResultColumns:
    def __init__(self) -> None:
        self._blocks: list[np.ndarray] = []
        self._fill = BLOCK_ROWS
        self._n = 0
        self.trajectories: list[str] = []
        self._trajectory_index: dict[str, int] = {}
        self.errors: list[str | None] = [None]
        self._error_index: dict[str, int] = {}

    @property
    def row_bytes(self) -> int:
        return ROW.itemsize

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self._blocks)

    def __len__(self) -> int:
        return self._n

    def _intern_error(self, error: str) -> int:
        idx = self._error_index.get(error)
        if idx is None:
            if len(self.errors) >= 65535:
                error = "(other errors: more than 65,534 distinct messages)"
                idx = self._error_index.get(error)
                if idx is not None:
                    return idx
            idx = len(self.errors)
            self.errors.append(error)
            self._error_index[error] = idx
        return idx

    def append(self, r: RequestResult) -> None:
        if self._fill == BLOCK_ROWS:
            self._blocks.append(np.zeros(BLOCK_ROWS, dtype=ROW))
            self._fill = 0
        traj = self._trajectory_index.get(r.trajectory_id)
        if traj is None:
            traj = self._trajectory_index[r.trajectory_id] = len(self.trajectories)
            self.trajectories.append(r.trajectory_id)
        t0 = r.t_intended
        first = r.t_first_token
        last = r.t_last_token
        self._blocks[-1][self._fill] = (
            r.agent_id,
            traj,
            r.replay,
            r.turn,
            t0,
            r.t_sent - t0,
            r.ttft,
            last - first if first is not None and last is not None else math.nan,
            r.t_end - t0,
            _count(r.prompt_tokens),
            _count(r.cached_tokens),
            _count(r.output_tokens),
            r.client_output_tokens,
            r.requested_output_tokens,
            _count(r.reasoning_tokens),
            r.http_status or 0,
            0 if r.error is None else self._intern_error(r.error),
            r.ok,
        )
        self._fill += 1
        self._n += 1

    def column(self, name: str) -> np.ndarray:
        """One field over all rows, as a new contiguous array."""
        if not self._blocks:
            return np.zeros(0, dtype=ROW[name])
        parts = [b[name] for b in self._blocks[:-1]]
        parts.append(self._blocks[-1][name][: self._fill])
        return np.concatenate(parts)

    def row(self, i: int) -> RequestResult:
        """Row `i` back as a `RequestResult` (times within float32 precision of the offsets)."""
        if not 0 <= i < self._n:
            raise IndexError(f"row {i} out of range 0..{self._n - 1}")
        x = self._blocks[i // BLOCK_ROWS][i % BLOCK_ROWS]
        t0 = float(x["t_intended"])
        ttft = float(x["ttft"])
        decode = float(x["decode"])
        first = t0 + ttft if math.isfinite(ttft) else None
        last = first + decode if first is not None and not math.isnan(decode) else None
        status = int(x["http_status"])
        return RequestResult(
            agent_id=int(x["agent_id"]),
            trajectory_id=self.trajectories[int(x["trajectory"])],
            replay=int(x["replay"]),
            turn=int(x["turn"]),
            t_intended=t0,
            t_sent=t0 + float(x["lag"]),
            t_end=t0 + float(x["end"]),
            ok=bool(x["ok"]),
            t_first_token=first,
            t_last_token=last,
            error=self.errors[int(x["error"])],
            http_status=status or None,
            prompt_tokens=_uncount(x["prompt_tokens"]),
            cached_tokens=_uncount(x["cached_tokens"]),
            output_tokens=_uncount(x["output_tokens"]),
            client_output_tokens=int(x["client_output_tokens"]),
            requested_output_tokens=int(x["requested_output_tokens"]),
            reasoning_tokens=_uncount(x["reasoning_tokens"]),
        )
