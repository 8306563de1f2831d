"""A stored run as the result screen reads it: its summary, or one rebuilt from its levels when
the run never finished (killed, crashed, still going)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from agentperf_tui.core.store import RunData


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def summary_of(run: RunData) -> dict[str, Any]:
    """The run's summary with what the store knows filled in (status, levels, store path)."""
    levels = [_clean(asdict(lv)) for lv in run.levels]
    summary: dict[str, Any] = dict(run.summary or {})
    summary.setdefault("run_id", run.info.id)
    summary["status"] = run.info.status
    summary.setdefault("endpoint", run.info.endpoint)
    summary.setdefault("model", run.info.model)
    summary.setdefault("simulated", run.info.simulated)
    summary.setdefault("mode", run.config.get("mode"))
    summary.setdefault("rigour", run.config.get("rigour"))
    summary.setdefault("tier", run.config.get("tier_resolved") or run.config.get("tier"))
    summary.setdefault("gpu_count", run.config.get("gpu_count"))
    summary.setdefault("comparable", run.config.get("comparable"))
    if not summary.get("levels"):
        summary["levels"] = levels
    if not summary.get("result") and run.info.result_n is not None:
        summary["result"] = {"n_star": run.info.result_n}
    summary["annotations"] = [a.text for a in run.annotations]
    return summary
