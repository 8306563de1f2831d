"""Windowed statistics over the request columns: what the live panels show.

Percentiles use the empirical (inverted-CDF) definition, so a failed request's TTFT of +inf and
speed of 0 count against the figures instead of being interpolated away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agentperf_tui.core.metrics.columns import FLAG_OK, RequestColumns
from agentperf_tui.core.views import Percentiles

SPEED_BINS = 12


def quantile(values: NDArray, q: float) -> float:
    """Empirical q-quantile (no interpolation); nan for an empty sample."""
    if values.size == 0:
        return math.nan
    return float(np.quantile(values, q, method="inverted_cdf"))


@dataclass(frozen=True, slots=True)
class WindowStats:
    window_s: float
    requests: int
    failed: int
    ttft: Percentiles
    speed_p25: float
    speed_p50: float
    speed_hist: tuple[int, ...]
    speed_hist_edges: tuple[float, ...]
    throughput_tok_s: float
    client_lag_p99: float
    client_lag_max: float


def window_stats(cols: RequestColumns, now: float, window_s: float) -> WindowStats:
    """Statistics of the requests that finished in (now - window_s, now]."""
    idx = cols.since_end(now - window_s)
    ttft = cols.col("ttft")[idx].astype(np.float64)
    speed = cols.col("speed")[idx].astype(np.float64)
    lag = cols.col("lag")[idx].astype(np.float64)
    out = cols.col("out_tokens")[idx]
    flags = cols.col("flags")[idx]
    failed = int(np.count_nonzero((flags & FLAG_OK) == 0))
    ok_speed = speed[((flags & FLAG_OK) != 0) & np.isfinite(speed)]
    if ok_speed.size:
        hi = float(np.max(ok_speed))
        hist, edges = np.histogram(ok_speed, bins=SPEED_BINS, range=(0.0, hi if hi > 0 else 1.0))
        hist_t = tuple(int(h) for h in hist)
        edges_t = tuple(float(e) for e in edges)
    else:
        hist_t, edges_t = (), ()
    # throughput over the part of the window the run has actually covered
    span = min(window_s, now) if now > 0 else window_s
    return WindowStats(
        window_s=window_s,
        requests=int(idx.size),
        failed=failed,
        ttft=Percentiles(quantile(ttft, 0.50), quantile(ttft, 0.95), quantile(ttft, 0.99)),
        speed_p25=quantile(speed, 0.25),
        speed_p50=quantile(speed, 0.50),
        speed_hist=hist_t,
        speed_hist_edges=edges_t,
        throughput_tok_s=float(out.sum()) / span if span > 0 else 0.0,
        client_lag_p99=quantile(lag, 0.99),
        client_lag_max=float(lag.max()) if lag.size else math.nan,
    )
