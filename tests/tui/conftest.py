"""Console test fixtures: a fake engine factory, fixed choices, a real SQLite run store."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentperf_tui.core.choices import Choices
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.protocol import Observer
from agentperf_tui.core.preflight import CheckReport, CheckRow
from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.store import RunStore
from agentperf_tui.core.telemetry.base import GpuSample
from agentperf_tui.tui.app import AgentPerfApp, make_app

from .fakes import FAMILY_SPEC, FakeEngine, SearchScript, script_summary

CHOICES = Choices(
    tiers=[
        ("deepseek-v4-pro@rev1  60 tok/s · 5 s", "deepseek-v4-pro@rev1/60-5"),
        ("deepseek-v4-pro@2026-06  100 tok/s · 5 s", "deepseek-v4-pro@2026-06/100-5"),
    ],
    hardware=["h100-sxm", "h200-sxm"],
    sim_models=["deepseek-v4-pro", "gpt-oss-120b"],
    trajectories=["trajectories/quick"],
)


def fixed_report(_: RunConfig) -> CheckReport:
    return CheckReport(
        [
            CheckRow("server", "SIMULATED embedded simulator", "warn"),
            CheckRow("model", "sim-deepseek-v4-pro"),
            CheckRow("context", "131,072 tokens"),
            CheckRow("exact length", "ignore_eos honoured (64/64 tokens)"),
        ]
    )


class EngineBox:
    """Collects the fake engines an app creates."""

    def __init__(self, **engine_kwargs: Any) -> None:
        self.engines: list[FakeEngine] = []
        self.kwargs = engine_kwargs

    def __call__(self, config: RunConfig, observers: list[Observer]) -> FakeEngine:
        engine = FakeEngine(config, observers, **self.kwargs)
        self.engines.append(engine)
        return engine

    @property
    def last(self) -> FakeEngine:
        return self.engines[-1]


def console(
    config: RunConfig | None = None, *, autostart: bool = False, **engine_kwargs: Any
) -> tuple[AgentPerfApp, EngineBox]:
    box = EngineBox(**engine_kwargs)
    cfg = config or RunConfig(mode="search", tier="deepseek-v4-pro@2026-06/100-5", concurrency=8)
    app = make_app(cfg, engine_factory=box, prober=fixed_report, choices=CHOICES, autostart=autostart)
    return app, box


@pytest.fixture(autouse=True)
def _unfreeze_collector() -> Iterator[None]:
    """A dashboard freezes what is alive when it is built (`tui/collector.py`); each test leaves
    the collector as it found it."""
    yield
    gc.unfreeze()


@pytest.fixture
def make_console() -> Callable[..., tuple[AgentPerfApp, EngineBox]]:
    return console


def _result(i: int, t0: float, ok: bool, speed: float) -> RequestResult:
    return RequestResult(
        agent_id=i % 8,
        trajectory_id=f"traj-{i % 3}",
        replay=0,
        turn=i,
        t_intended=t0,
        t_sent=t0 + 0.001,
        t_end=t0 + 3.0,
        ok=ok,
        t_first_token=t0 + 0.4 + (i % 7) * 0.1 if ok else None,
        t_last_token=t0 + 0.4 + (i % 7) * 0.1 + 200 / speed if ok else None,
        error=None if ok else "HTTP 503",
        http_status=200 if ok else 503,
        prompt_tokens=2000,
        cached_tokens=1500,
        output_tokens=201 if ok else None,
        client_output_tokens=201 if ok else 0,
        requested_output_tokens=201,
    )


def write_run(
    store: Path, script: SearchScript, *, note: str | None, n_scale: float = 1.0, finish: bool = True,
    family: bool = False,
) -> str:
    """One run in a real SQLite store: the script's levels, requests, GPU samples, a note.
    `family`: the script was judged against several tiers (see fakes.family_script): its own
    per-tier summary is stored, and the config names the family."""
    rs = RunStore(store)
    try:
        config: dict[str, Any] = {
            "mode": "search",
            "rigour": "fast",
            "tier": "deepseek-v4-pro@rev1/100-5",
            "gpu_count": 4,
            "hardware": "h100-sxm" if n_scale == 1.0 else "h200-sxm",
            "comparable": True,
            "tier_resolved": {"name": "deepseek-v4-pro@rev1/100-5", "speed_tok_s": 100.0, "ttft_s": 5.0},
        }
        if family:
            tiers = [r.tier for r in script.summary.results if r.tier is not None]
            config["tier"] = FAMILY_SPEC
            config["tier_resolved"] = tiers[0].to_dict()
            config["tiers_resolved"] = [t.to_dict() for t in tiers]
        run_id = rs.create_run(
            config=config,
            endpoint="http://127.0.0.1:40123",
            model="sim-deepseek-v4-pro",
            simulated=True,
            started_wall=time.time(),
        )
        levels = [
            lv.model_copy(update={"n": int(lv.n * n_scale)})
            for lv in script.snapshots[-1].search.levels  # type: ignore[union-attr]
        ]
        for lv in levels:
            rs.put_level(run_id, lv)
            results = [
                _result(i, lv.started_at + i * 0.1, ok=i % 23 != 0, speed=max(5.0, lv.speed_p25 * 1.1))
                for i in range(40)
            ]
            rs.add_requests(run_id, results, lv.index)
        samples = [
            GpuSample(
                t=float(t), gpu=str(g), power_w=600.0 + 10 * g + 50 * math.sin(t / 10), energy_j=t * 600.0
            )
            for t in range(0, 150, 5)
            for g in range(4)
        ]
        rs.add_telemetry(run_id, samples, "simulated")
        if note:
            rs.annotate(run_id, 1.0, note)
        if finish and family:
            rs.finish_run(run_id, status="finished", summary=script.summary.model_copy(
                update={"run_id": run_id, "store": str(store)}))
        elif finish:
            s = script.summary
            result = s.result
            assert result is not None and result.first_fail_n is not None
            summary = script_summary(
                run_id, s.simulated, levels, int(48 * n_scale), int(result.first_fail_n * n_scale),
                s.duration_s, s.requests.ok, s.requests.failed,
            ).model_copy(update={"store": str(store)})
            rs.finish_run(run_id, status="finished", summary=summary)
        rs.flush()
    finally:
        rs.close()
    return run_id
