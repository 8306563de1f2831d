"""What a stretch of the run moved: output and input tokens per second, requests per second and
the prefix-cache hit ratio the server reported in `usage.prompt_tokens_details.cached_tokens`.

Computed from the request columns: for a level, over the requests sent in its measured window
(whenever they finished), divided by the window's length; for the whole run, over every request
that finished, divided by the run's duration. Requests still open when the run stopped count in
neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agentperf_tui.core.metrics.columns import FLAG_OPEN_AT_END, RequestColumns


@dataclass(frozen=True, slots=True)
class Throughput:
    output_tok_s: float | None = None
    input_tok_s: float | None = None
    """Prompt tokens per second, from the server's usage (None when it reports none)."""
    requests_per_s: float | None = None
    cache_hit_ratio: float | None = None
    """Cached prompt tokens / prompt tokens over the requests that reported both (None when none
    did: the server does not report usage.prompt_tokens_details)."""

    def as_fields(self) -> dict[str, float | None]:
        return {
            "output_tok_s": self.output_tok_s,
            "input_tok_s": self.input_tok_s,
            "requests_per_s": self.requests_per_s,
            "cache_hit_ratio": self.cache_hit_ratio,
        }


def _of(cols: RequestColumns, rows: NDArray[np.bool_], span_s: float) -> Throughput:
    if span_s <= 0:
        return Throughput()
    out = cols.col("out_tokens")[rows]
    prompt = cols.col("prompt_tokens")[rows].astype(np.int64)
    cached = cols.col("cached_tokens")[rows].astype(np.int64)
    known_prompt = prompt >= 0
    both = known_prompt & (cached >= 0)
    prompt_both = int(prompt[both].sum())
    return Throughput(
        output_tok_s=float(out.sum(dtype=np.int64)) / span_s,
        input_tok_s=float(prompt[known_prompt].sum()) / span_s if known_prompt.any() else None,
        requests_per_s=int(rows.sum()) / span_s,
        cache_hit_ratio=int(cached[both].sum()) / prompt_both if prompt_both > 0 else None,
    )


def window_throughput(cols: RequestColumns, t0: float, t1: float) -> Throughput:
    """The requests sent in [t0, t1) (a level's measured window), per second of that window."""
    sent = cols.col("t_sent")
    rows = (sent >= t0) & (sent < t1) & ((cols.col("flags") & FLAG_OPEN_AT_END) == 0)
    return _of(cols, rows, t1 - t0)


def run_throughput(cols: RequestColumns, duration_s: float) -> Throughput:
    """Every finished request of the run, per second of the run."""
    rows = (cols.col("flags") & FLAG_OPEN_AT_END) == 0
    return _of(cols, rows, duration_s)
