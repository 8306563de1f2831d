"""What the reader returns: run listings, a loaded run with column arrays, and comparisons.

Column tables hold one numpy array per column. Integer columns that can be missing
(`level`, `http_status`, token counts) are float64 with NaN for "missing"; text columns are
object arrays holding str or None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import RunSummary

INCOMPLETE = "incomplete (no finish record)"
"""Shown status of a run still marked "running" whose writing process is gone."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: str
    started_wall: float
    endpoint: str
    model: str
    simulated: bool
    status: str
    """"running", "finished", "aborted", "crashed", or INCOMPLETE when the writer is gone."""
    stored_status: str
    """The status column as written ("running" for a run that never finished)."""
    result_n: int | None
    """N*: from the summary; for an unfinished run the best passing level so far."""
    result_final: bool
    """False when result_n is provisional (no summary yet)."""
    tier: str | None
    annotations: int
    first_annotation: str | None
    note: str | None
    finished_wall: float | None
    writer_host: str | None
    writer_pid: int | None
    mode: str | None = None
    """"search", "fixed" or "sweep" as configured; None when the config does not say."""
    last_level: tuple[int, str] | None = None
    """(N, verdict) of the run's latest level."""

    @property
    def headline(self) -> str:
        tier = f" @ {self.tier}" if self.tier else ""
        if self.mode == "fixed" and self.last_level is not None:
            # A fixed-N run searches nothing: its answer is whether the tier held at that N.
            n, verdict = self.last_level
            so_far = "" if self.result_final else " so far"
            return f"fixed N={n}: {verdict}{so_far}{tier}"
        if self.result_final:
            return f"N*={self.result_n}{tier}" if self.result_n else f"no passing level{tier}"
        if self.result_n is None:
            return f"measuring{tier}" if self.status == "running" else f"no passing level, unfinished{tier}"
        return f"N>={self.result_n} so far{tier}"


@dataclass(frozen=True, slots=True)
class Annotation:
    t: float | None
    """Run-clock seconds; None for a note added after the run."""
    wall: float
    text: str


@dataclass(frozen=True, slots=True)
class RequestTable:
    level: FloatArray
    agent: IntArray
    trajectory: ObjArray
    replay: IntArray
    turn: IntArray
    t_intended: FloatArray
    t_sent: FloatArray
    t_first_token: FloatArray
    t_last_token: FloatArray
    t_end: FloatArray
    ok: BoolArray
    error: ObjArray
    http_status: FloatArray
    prompt_tokens: FloatArray
    cached_tokens: FloatArray
    output_tokens: FloatArray
    client_output_tokens: IntArray
    requested_output_tokens: IntArray
    reasoning_tokens: FloatArray

    def __len__(self) -> int:
        return int(self.agent.shape[0])

    def ttft(self) -> FloatArray:
        """Per request, as RequestResult.ttft: first token minus intended send; inf when failed."""
        good = self.ok & ~np.isnan(self.t_first_token)
        out = np.full(len(self), math.inf)
        out[good] = self.t_first_token[good] - self.t_intended[good]
        return out

    def output_speed(self) -> FloatArray:
        """Per request, as RequestResult.output_speed: (tokens - 1) / (last - first); 0 when failed."""
        tokens = np.where(np.isnan(self.output_tokens), self.client_output_tokens, self.output_tokens)
        dt = self.t_last_token - self.t_first_token
        good = self.ok & ~np.isnan(dt) & (tokens > 1)
        out = np.zeros(len(self))
        timed = good & (dt > 0)
        out[timed] = (tokens[timed] - 1) / dt[timed]
        out[good & (dt <= 0)] = np.inf  # every token in one network read
        return out

    def client_lag(self) -> FloatArray:
        return self.t_sent - self.t_intended

    def select(self, mask: BoolArray) -> RequestTable:
        return RequestTable(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    def for_level(self, idx: int | None) -> RequestTable:
        """Requests of level `idx`; None gives those sent outside any level."""
        return self.select(np.isnan(self.level) if idx is None else self.level == idx)

    def to_results(self) -> list[RequestResult]:
        """Back to RequestResult records (level is not part of a RequestResult)."""
        out = []
        for i in range(len(self)):
            out.append(
                RequestResult(
                    agent_id=int(self.agent[i]),
                    trajectory_id=str(self.trajectory[i]),
                    replay=int(self.replay[i]),
                    turn=int(self.turn[i]),
                    t_intended=float(self.t_intended[i]),
                    t_sent=float(self.t_sent[i]),
                    t_end=float(self.t_end[i]),
                    ok=bool(self.ok[i]),
                    t_first_token=_opt_float(self.t_first_token[i]),
                    t_last_token=_opt_float(self.t_last_token[i]),
                    error=self.error[i],
                    http_status=_opt_int(self.http_status[i]),
                    prompt_tokens=_opt_int(self.prompt_tokens[i]),
                    cached_tokens=_opt_int(self.cached_tokens[i]),
                    output_tokens=_opt_int(self.output_tokens[i]),
                    client_output_tokens=int(self.client_output_tokens[i]),
                    requested_output_tokens=int(self.requested_output_tokens[i]),
                    reasoning_tokens=_opt_int(self.reasoning_tokens[i]),
                )
            )
        return out


@dataclass(frozen=True, slots=True)
class TelemetryTable:
    t: FloatArray
    gpu: ObjArray
    power_w: FloatArray
    energy_j: FloatArray
    power_limit_w: FloatArray
    util_pct: FloatArray
    mem_used_bytes: FloatArray
    temp_c: FloatArray
    sm_clock_mhz: FloatArray
    source: ObjArray

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def gpus(self) -> list[str]:
        return sorted({str(g) for g in self.gpu})


@dataclass(frozen=True, slots=True)
class ServerMetricsTable:
    t: FloatArray
    name: ObjArray
    value: FloatArray

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def names(self) -> list[str]:
        return sorted({str(n) for n in self.name})

    def series(self, name: str) -> tuple[FloatArray, FloatArray]:
        """(t, value) of one metric, in time order."""
        mask = self.name == name
        return self.t[mask], self.value[mask]


@dataclass(frozen=True, slots=True)
class RunData:
    info: RunInfo
    config: dict[str, Any]
    summary: RunSummary
    """The run's own summary; for a run that never wrote one (killed, crashed, still going) one
    rebuilt from what the store holds, with `final` False."""
    levels: list[LevelRecord]
    """In level index order, as stored while the run went on."""
    annotations: list[Annotation]
    requests: RequestTable
    telemetry: TelemetryTable
    server_metrics: ServerMetricsTable


@dataclass(frozen=True, slots=True)
class Difference:
    field: str
    a: Any
    b: Any
    delta: float | None
    """b - a for numbers, None otherwise."""
    better: Literal["a", "b"] | None
    """Which run is better on this field; None when equal, not comparable, or not a merit."""


def _opt_float(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _opt_int(x: float) -> int | None:
    return None if math.isnan(x) else int(x)
