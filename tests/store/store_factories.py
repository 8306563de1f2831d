"""Builders for the run store tests: plausible requests, levels and GPU samples."""

from __future__ import annotations

import time
from typing import Any

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.store import RunStore
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import RequestCounts, RunSummary
from agentperf_tui.core.summary.normalise import normalise
from agentperf_tui.core.summary.result import TierResult
from agentperf_tui.core.telemetry.base import GpuSample
from agentperf_tui.core.tiers import SloTier


def make_result(i: int, *, ok: bool = True, **over: Any) -> RequestResult:
    """A plausible finished request: 0.3 s TTFT, 100 tok/s, every optional field filled."""
    t0 = float(i)
    fields: dict[str, Any] = dict(
        agent_id=i % 4,
        trajectory_id=f"traj-{i % 3}",
        replay=i // 10,
        turn=i % 10,
        t_intended=t0,
        t_sent=t0 + 0.002,
        t_end=t0 + 1.4,
        ok=ok,
        t_first_token=t0 + 0.3 if ok else None,
        t_last_token=t0 + 1.3 if ok else None,
        error=None if ok else "HTTP 503: overloaded",
        http_status=200 if ok else 503,
        prompt_tokens=1000 + i if ok else None,
        cached_tokens=800 if ok else None,
        output_tokens=101 if ok else None,
        client_output_tokens=101 if ok else 0,
        requested_output_tokens=101,
        reasoning_tokens=7 if ok else None,
    )
    fields.update(over)
    return RequestResult(**fields)


def make_level(n: int, verdict: str = "pass", index: int = 0, **over: Any) -> LevelRecord:
    fields: dict[str, Any] = dict(
        index=index,
        n=n,
        role="ramp",
        phase="settled",
        outcome="measured",
        passed=verdict == "pass",
        started_at=10.0 * n,
        measure_from=10.0 * n + 3.0,
        ended_at=10.0 * n + 9.0,
        requests=200,
        failed=4,
        speed_p25=120.5,
        speed_p25_bounds=(110.0, 130.0),
        ttft_p95=2.25,
        ttft_p95_bounds=(2.0, 2.5),
        speed_verdict=verdict,
        ttft_verdict="pass",
        verdict=verdict,
        confidence=0.95,
        reason="both percentiles settled",
        mean_power_w=4000.0,
        energy_j=24000.0,
        power_note=None,
        trajectories_completed=31,
    )
    fields.update(over)
    return LevelRecord(**fields)


def make_summary(
    levels: list[LevelRecord],
    *,
    n_star: int | None,
    tier: SloTier | None = None,
    gpu_count: int | None = None,
    mode: str = "search",
    status: str = "finished",
    nominal_gpu_power_w: float | None = None,
    requests: tuple[int, int] = (0, 0),
    **over: Any,
) -> RunSummary:
    """A summary as the engine builds one: the result's per-GPU and per-MW figures come from the
    one normalisation, at N*'s level (or the level a fixed run held)."""
    level_n = levels[-1].n if mode == "fixed" and levels else n_star
    at = [lv for lv in levels if lv.n == level_n]
    level = at[-1] if at else None
    norm = normalise(
        n_star,
        gpu_count,
        level.mean_power_w if level is not None and n_star else None,
        power_note=level.power_note if level is not None else None,
        nominal_gpu_power_w=nominal_gpu_power_w,
    )
    result = TierResult(
        tier=tier,
        n_star=n_star,
        level_n=level.n if level is not None else None,
        level_index=level.index if level is not None else None,
        gpu_count=gpu_count,
        agents_per_gpu=norm.agents_per_gpu,
        agents_per_mw=norm.agents_per_mw,
        power_w=norm.power_w,
        power_basis=norm.power_basis,
        power_note=norm.note,
    )
    fields: dict[str, Any] = dict(
        status=status,
        mode=mode,
        gpu_count=gpu_count,
        levels=tuple(levels),
        results=(result,),
        requests=RequestCounts(ok=requests[0], failed=requests[1]),
    )
    fields.update(over)
    return RunSummary(**fields)


def make_sample(t: float, gpu: str = "0", **over: Any) -> GpuSample:
    fields: dict[str, Any] = dict(
        t=t,
        gpu=gpu,
        power_w=650.0 + t,
        energy_j=1000.0 + 650.0 * t,
        power_limit_w=700.0,
        util_pct=97.0,
        mem_used_bytes=70 * 2**30,
        temp_c=61.5,
        sm_clock_mhz=1980.0,
    )
    fields.update(over)
    return GpuSample(**fields)


def new_run(store: RunStore, **over: Any) -> str:
    kwargs: dict[str, Any] = dict(
        config={"tier": "deepseek/100-5", "mode": "search", "gpu_count": 8, "sweep": [1, 2, 4]},
        endpoint="http://127.0.0.1:8000/v1",
        model="test-model",
        simulated=True,
        started_wall=time.time(),
    )
    kwargs.update(over)
    return store.create_run(**kwargs)
