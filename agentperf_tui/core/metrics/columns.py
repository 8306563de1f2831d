"""Compact in-memory request records: growable numpy columns, about 40 bytes per request.

Every finished request of a run is kept (a long run at 1,000 agents is millions of requests), so
one record is a row across fixed-width numpy columns rather than a Python object.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from agentperf_tui.core.records import RequestResult

FLAG_OK = 1
FLAG_USAGE_MISMATCH = 2
FLAG_LENGTH_MISMATCH = 4
FLAG_OPEN_AT_END = 8
"""Still open when the run stopped: stored and counted, not a finished request."""

_SCHEMA: dict[str, np.dtype] = {
    "t_sent": np.dtype(np.float64),
    "t_end": np.dtype(np.float32),
    "ttft": np.dtype(np.float32),
    "speed": np.dtype(np.float32),
    "lag": np.dtype(np.float32),
    "out_tokens": np.dtype(np.int32),
    "prompt_tokens": np.dtype(np.int32),
    "cached_tokens": np.dtype(np.int32),
    "agent": np.dtype(np.int32),
    "level": np.dtype(np.int16),
    "flags": np.dtype(np.uint8),
}


class RequestColumns:
    """Append-only columns of finished requests, in the order they were recorded."""

    def __init__(self, capacity: int = 4096) -> None:
        self._cap = max(16, capacity)
        self._n = 0
        self._cols: dict[str, NDArray] = {k: np.empty(self._cap, dtype=dt) for k, dt in _SCHEMA.items()}
        self.ok = 0
        self.failed = 0
        """Failed requests, not counting those still open when the run stopped."""
        self.open_at_end = 0
        self.failures: Counter[str] = Counter()
        """Failed requests by kind (records.FAILURE_KINDS), open_at_end included."""
        self.output_tokens = 0
        self.usage_mismatches = 0
        self.length_mismatches = 0

    def __len__(self) -> int:
        return self._n

    @staticmethod
    def bytes_per_record() -> int:
        return sum(dt.itemsize for dt in _SCHEMA.values())

    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._cols.values())

    def _grow(self, need: int) -> None:
        cap = self._cap
        while cap < need:
            cap *= 2
        if cap == self._cap:
            return
        for k, col in self._cols.items():
            new = np.empty(cap, dtype=col.dtype)
            new[: self._n] = col[: self._n]
            self._cols[k] = new
        self._cap = cap

    def extend(self, results: Iterable[RequestResult], level: int = -1) -> None:
        rows = list(results)
        if not rows:
            return
        start = self._n
        end = start + len(rows)
        self._grow(end)
        c = self._cols
        for i, r in enumerate(rows, start):
            flags = 0
            if r.ok:
                flags |= FLAG_OK
                self.ok += 1
            else:
                kind = r.failure or "reset"
                self.failures[kind] += 1
                if kind == "open_at_end":
                    flags |= FLAG_OPEN_AT_END
                    self.open_at_end += 1
                else:
                    self.failed += 1
            if r.usage_mismatch:
                flags |= FLAG_USAGE_MISMATCH
                self.usage_mismatches += 1
            if r.length_mismatch:
                flags |= FLAG_LENGTH_MISMATCH
                self.length_mismatches += 1
            ttft = r.ttft
            c["t_sent"][i] = r.t_sent if not math.isnan(r.t_sent) else r.t_intended
            c["t_end"][i] = r.t_end
            c["ttft"][i] = ttft
            c["speed"][i] = r.output_speed
            c["lag"][i] = r.client_lag if not math.isnan(r.t_sent) else 0.0
            n_out = r.output_tokens if r.output_tokens is not None else r.client_output_tokens
            c["out_tokens"][i] = n_out if r.ok else 0
            if r.ok:
                self.output_tokens += n_out
            c["prompt_tokens"][i] = r.prompt_tokens if r.prompt_tokens is not None else -1
            c["cached_tokens"][i] = r.cached_tokens if r.cached_tokens is not None else -1
            c["agent"][i] = r.agent_id
            c["level"][i] = level
            c["flags"][i] = flags
        self._n = end

    def col(self, name: str) -> NDArray:
        """A read-only view of one column (valid until the next append)."""
        v = self._cols[name][: self._n]
        v.flags.writeable = False
        return v

    def since_end(self, t0: float, slack: float = 10.0) -> NDArray:
        """Indices of rows whose t_end >= t0.

        Rows are appended in (nearly) completion order, so only a tail is scanned: a binary search
        with `slack` seconds of tolerance for rows recorded slightly out of order, then a mask.
        """
        t_end = self._cols["t_end"][: self._n]
        i = int(np.searchsorted(t_end, np.float32(t0 - slack), side="left"))
        tail = np.nonzero(t_end[i:] >= np.float32(t0))[0]
        return tail + i
