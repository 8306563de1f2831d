"""The run summary, built once when a run ends from what the run measured."""

from __future__ import annotations

from agentperf_tui.core.metrics.columns import RequestColumns
from agentperf_tui.core.metrics.window import window_stats
from agentperf_tui.core.search.result import SearchResult
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import (
    LagFigures,
    RequestCounts,
    RunSummary,
    SpeedPercentiles,
    Status,
    TtftPercentiles,
    WholeRunFigures,
)


def whole_run_figures(cols: RequestColumns, now: float) -> WholeRunFigures:
    """Percentiles over every finished request since the run started."""
    s = window_stats(cols, now, now + 1.0)
    return WholeRunFigures(
        ttft_s=TtftPercentiles(p50=s.ttft.p50, p95=s.ttft.p95, p99=s.ttft.p99),
        output_speed_tok_s=SpeedPercentiles(p25=s.speed_p25, p50=s.speed_p50),
        client_lag_s=LagFigures(p99=s.client_lag_p99, max=s.client_lag_max),
    )


def build_summary(
    *,
    run_id: str | None,
    status: Status,
    status_reason: str | None,
    started_wall: float,
    endpoint: str,
    model: str,
    simulated: bool,
    simulator: str | None,
    comparable: bool,
    comparability: tuple[str, ...],
    mode: str,
    rigour: str,
    published_rules: bool,
    gpu_count: int | None,
    duration_s: float,
    cols: RequestColumns,
    levels: list[LevelRecord],
    result: SearchResult | None,
    store: str | None,
) -> RunSummary:
    return RunSummary.model_validate(
        {
            "run_id": run_id,
            "status": status,
            "status_reason": status_reason,
            "started_wall": started_wall,
            "endpoint": endpoint,
            "model": model,
            "simulated": simulated,
            "simulator": simulator,
            "comparable": comparable,
            "comparability": comparability,
            "mode": mode,
            "rigour": rigour,
            "published_rules": published_rules,
            "gpu_count": gpu_count,
            "duration_s": round(duration_s, 3),
            "requests": RequestCounts(ok=cols.ok, failed=cols.failed),
            "output_tokens": cols.output_tokens,
            "usage_mismatches": cols.usage_mismatches,
            "length_mismatches": cols.length_mismatches,
            "whole_run": whole_run_figures(cols, duration_s),
            "levels": tuple(levels),
            "results": result.results if result is not None else (),
            "store": store,
        }
    )
