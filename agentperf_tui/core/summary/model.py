"""RunSummary: the typed, versioned result of one run, the same for every face.

Built once when a run ends (`core/engine/summary.py`, or the planner on the virtual clock),
printed by headless runs and `plan`, stored by the run store, drawn by the screens. Older
stored versions are upgraded on read (`core/summary/upgrade.py`). docs/run-summary.md lists
every field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agentperf_tui.core.summary.figures import NAN, Figure
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.plan import PlanDetails
from agentperf_tui.core.summary.result import TierResult

SUMMARY_SCHEMA = "agentperf-summary/2"
Status = Literal["running", "finished", "aborted", "failed", "crashed", "incomplete"]


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class RequestCounts(_Shape):
    ok: int = 0
    failed: int = 0
    """Failed requests (each counted against the SLO), those open at the end not included."""
    open_at_end: int = 0
    """Requests still open when the run stopped: stored, counted here and nowhere else."""
    by_kind: dict[str, int] = {}
    """Failed and open-at-end requests by kind (see records.FAILURE_KINDS)."""

    @property
    def total(self) -> int:
        return self.ok + self.failed + self.open_at_end


class TtftPercentiles(_Shape):
    p50: Figure = NAN
    p95: Figure = NAN
    p99: Figure = NAN


class SpeedPercentiles(_Shape):
    p25: Figure = NAN
    p50: Figure = NAN


class LagFigures(_Shape):
    p99: Figure = NAN
    max: Figure = NAN


class WholeRunFigures(_Shape):
    """Every finished request since the run started, warm-ups and transitions included: context,
    not the decision (levels are decided on their measured windows, whose figures each level
    carries)."""

    ttft_s: TtftPercentiles = TtftPercentiles()
    output_speed_tok_s: SpeedPercentiles = SpeedPercentiles()
    client_lag_s: LagFigures = LagFigures()
    output_tok_s: float | None = None
    """Output tokens per second of run time."""
    input_tok_s: float | None = None
    """Prompt tokens per second of run time, from the server's usage."""
    requests_per_s: float | None = None
    cache_hit_ratio: float | None = None
    """Cached prompt tokens / prompt tokens (usage.prompt_tokens_details.cached_tokens); None when
    the server reports no cached tokens."""


class ClockOffsetInfo(_Shape):
    worker: str
    offset_s: float
    """Coordinator time = worker time + offset."""
    uncertainty_s: float
    shared: bool
    """On the coordinator's machine: one monotonic clock, offset 0 by construction."""


class LoadInfo(_Shape):
    """Where the agents ran."""

    kind: Literal["local", "process", "ray"] = "local"
    """local: in the engine's own process; process: worker processes on its machine; ray: Ray actors."""
    workers: int = 1
    clock_offsets: tuple[ClockOffsetInfo, ...] = ()


class RunSummary(_Shape):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    schema_: Literal["agentperf-summary/2"] = Field(default="agentperf-summary/2", alias="schema")
    run_id: str | None = None
    status: Status = "finished"
    status_reason: str | None = None
    final: bool = True
    """False for a summary rebuilt from the stored levels of a run that never wrote its own."""
    started_wall: float | None = None
    """Unix time of the run clock's zero: every request time in the store counts from it."""
    endpoint: str = ""
    model: str = ""
    simulated: bool = False
    simulated_by: str | None = None
    """Why the run counts as simulated: "embedded simulator" (its random port means nothing) or
    "the server says so" (a standalone `agentperf-tui sim`)."""
    comparable: bool = True
    comparability: tuple[str, ...] = ()
    """Why the run is not comparable (empty when it is)."""
    mode: Literal["search", "fixed", "sweep"] = "fixed"
    rigour: Literal["strict", "fast"] = "fast"
    published_rules: bool = False
    gpu_count: int | None = None
    duration_s: float = 0.0
    requests: RequestCounts = RequestCounts()
    output_tokens: int = 0
    usage_mismatches: int = 0
    """Requests whose stream carried more output deltas than their usage counts tokens: the
    server's token count (the output speed's numerator) cannot be right for them."""
    length_mismatches: int = 0
    """Finished requests that did not generate the exact number of tokens asked for."""
    whole_run: WholeRunFigures = WholeRunFigures()
    levels: tuple[LevelRecord, ...] = ()
    results: tuple[TierResult, ...] = ()
    """One entry per SLO tier the run was judged against (one entry without a verdict for a
    fixed run with no tier); empty when the run has no answer (cut short, failed)."""
    store: str | None = None
    simulator: str | None = None
    """The simulated deployment, when the endpoint is a simulator."""
    load: LoadInfo = LoadInfo()
    incidents: tuple[str, ...] = ()
    """What happened to the run that a reader must know: a load worker that ended, a clock offset
    too uncertain for the tier, the store failing."""
    clock: Literal["real", "virtual"] = "real"
    """virtual: a capacity plan on the simulator's virtual clock (`duration_s` is virtual time)."""
    wall_time_s: float | None = None
    """Wall time a virtual-clock plan took."""
    plan: PlanDetails | None = None
    """A plan that chose its deployment shape from a recipe: the shape, the runner-up, what bound
    each and the plausible range (None for runs and for plans of an explicit shape)."""

    @property
    def result(self) -> TierResult | None:
        """The result for the run's first tier (the only one unless several were asked for)."""
        return self.results[0] if self.results else None

    @property
    def endpoint_label(self) -> str:
        """The endpoint as a person reads it: "embedded simulator" rather than its random port."""
        return "embedded simulator" if self.simulated_by == "embedded simulator" else self.endpoint

    def level(self, index: int | None) -> LevelRecord | None:
        if index is None:
            return None
        return next((lv for lv in self.levels if lv.index == index), None)

    def to_json(self, *, indent: bool = False) -> bytes:
        return self.model_dump_json(by_alias=True, indent=2 if indent else None).encode()
