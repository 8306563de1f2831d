"""Mapping between the shared records (RequestResult, LevelRecord, GpuSample) and table rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import orjson

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.telemetry.base import GpuSample

REQUEST_COLUMNS = (
    "level",
    "agent",
    "trajectory",
    "replay",
    "turn",
    "t_intended",
    "t_sent",
    "t_first_token",
    "t_last_token",
    "t_end",
    "ok",
    "error",
    "http_status",
    "prompt_tokens",
    "cached_tokens",
    "output_tokens",
    "client_output_tokens",
    "requested_output_tokens",
    "reasoning_tokens",
)

LEVEL_COLUMNS = (
    "idx",
    "n",
    "phase",
    "started_at",
    "measure_from",
    "ended_at",
    "requests",
    "failed",
    "trajectories_completed",
    "speed_p25",
    "speed_p25_lo",
    "speed_p25_hi",
    "ttft_p95",
    "ttft_p95_lo",
    "ttft_p95_hi",
    "speed_verdict",
    "ttft_verdict",
    "verdict",
    "confidence",
    "reason",
    "mean_power_w",
    "energy_j",
    "power_note",
    "role",
    "outcome",
    "record",
)
"""The indexed columns are for SQL listings and CSV; `record` holds the whole LevelRecord (JSON)."""
LEVEL_COLUMNS_V1 = LEVEL_COLUMNS[:-3]

TELEMETRY_COLUMNS = (
    "t",
    "gpu",
    "power_w",
    "energy_j",
    "power_limit_w",
    "util_pct",
    "mem_used_bytes",
    "temp_c",
    "sm_clock_mhz",
    "source",
)

SERVER_METRIC_COLUMNS = ("t", "name", "value")
ANNOTATION_COLUMNS = ("t", "wall", "text")


def insert_sql(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(("run_pk", *columns))
    marks = ", ".join("?" * (len(columns) + 1))
    return f"INSERT INTO {table} ({names}) VALUES ({marks})"


def request_row(run_pk: int, level: int | None, r: RequestResult) -> tuple[Any, ...]:
    return (
        run_pk,
        level,
        r.agent_id,
        r.trajectory_id,
        r.replay,
        r.turn,
        r.t_intended,
        r.t_sent,
        r.t_first_token,
        r.t_last_token,
        r.t_end,
        r.ok,
        r.error,
        r.http_status,
        r.prompt_tokens,
        r.cached_tokens,
        r.output_tokens,
        r.client_output_tokens,
        r.requested_output_tokens,
        r.reasoning_tokens,
    )


def level_row(run_pk: int, lv: LevelRecord) -> tuple[Any, ...]:
    return (
        run_pk,
        lv.index,
        lv.n,
        lv.phase,
        lv.started_at,
        lv.measure_from,
        lv.ended_at,
        lv.requests,
        lv.failed,
        lv.trajectories_completed,
        lv.speed_p25,
        lv.speed_p25_bounds[0],
        lv.speed_p25_bounds[1],
        lv.ttft_p95,
        lv.ttft_p95_bounds[0],
        lv.ttft_p95_bounds[1],
        lv.speed_verdict,
        lv.ttft_verdict,
        lv.verdict,
        lv.confidence,
        lv.reason,
        lv.mean_power_w,
        lv.energy_j,
        lv.power_note,
        lv.role,
        lv.outcome,
        lv.model_dump_json(),
    )


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def level_from_row(row: Sequence[Any]) -> LevelRecord:
    """A LevelRecord from a row in LEVEL_COLUMNS order (or LEVEL_COLUMNS_V1 order, from a store
    written before levels carried their whole record)."""
    if len(row) == len(LEVEL_COLUMNS) and row[-1] is not None:
        return LevelRecord.model_validate_json(row[-1])
    (idx, n, phase, started_at, measure_from, ended_at, requests, failed, trajectories,
     p25, p25_lo, p25_hi, p95, p95_lo, p95_hi, speed_v, ttft_v, verdict, confidence, reason,
     power, energy, power_note) = row[: len(LEVEL_COLUMNS_V1)]  # fmt: skip
    return LevelRecord(
        index=idx,
        n=n,
        phase=phase,
        outcome="measured" if phase == "settled" else None,
        started_at=_nan(started_at),
        measure_from=measure_from,
        ended_at=ended_at,
        requests=requests,
        failed=failed,
        speed_p25=_nan(p25),
        speed_p25_bounds=(_nan(p25_lo), _nan(p25_hi)),
        ttft_p95=_nan(p95),
        ttft_p95_bounds=(_nan(p95_lo), _nan(p95_hi)),
        speed_verdict=speed_v,
        ttft_verdict=ttft_v,
        verdict=verdict,
        confidence=confidence,
        reason=reason or "",
        mean_power_w=power,
        energy_j=energy,
        power_note=power_note,
        trajectories_completed=trajectories,
    )


def telemetry_row(run_pk: int, s: GpuSample, source: str) -> tuple[Any, ...]:
    return (
        run_pk,
        s.t,
        s.gpu,
        s.power_w,
        s.energy_j,
        s.power_limit_w,
        s.util_pct,
        s.mem_used_bytes,
        s.temp_c,
        s.sm_clock_mhz,
        source,
    )


def _json_default(obj: Any) -> Any:
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    if isinstance(obj, Decimal):
        return float(obj)
    raise TypeError(f"cannot store a value of type {type(obj).__name__} as JSON")


def dumps_json(obj: Any) -> str:
    """JSON text for config/summary columns (NaN and inf become null, numpy values allowed)."""
    return orjson.dumps(
        obj, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    ).decode()


def loads_json(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def result_from_row(row: Sequence[Any]) -> RequestResult:
    """A RequestResult from a row in REQUEST_COLUMNS order (the level column is dropped)."""
    (_level, agent, trajectory, replay, turn, t_intended, t_sent, t_first, t_last, t_end, ok, error,
     http_status, prompt, cached, output, client_output, requested, reasoning) = row  # fmt: skip
    return RequestResult(
        agent_id=agent,
        trajectory_id=trajectory,
        replay=replay,
        turn=turn,
        t_intended=_nan(t_intended),
        t_sent=_nan(t_sent),
        t_end=_nan(t_end),
        ok=bool(ok),
        t_first_token=t_first,
        t_last_token=t_last,
        error=error,
        http_status=http_status,
        prompt_tokens=prompt,
        cached_tokens=cached,
        output_tokens=output,
        client_output_tokens=client_output,
        requested_output_tokens=requested,
        reasoning_tokens=reasoning,
    )
