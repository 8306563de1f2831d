"""Builders for the run store tests: plausible requests, levels and GPU samples."""

from __future__ import annotations

import time
from typing import Any

from agentperf_tui.core.observer import LevelView
from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.store import RunStore
from agentperf_tui.core.telemetry.base import GpuSample


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


def make_level(n: int, verdict: str = "pass", **over: Any) -> LevelView:
    fields: dict[str, Any] = dict(
        n=n,
        phase="settled",
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
    return LevelView(**fields)


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
