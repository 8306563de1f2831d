"""The one protocol between a run's controls and the engine, at every layer.

Commands go in (from the console, the headless CLI, across the engine process's pipe) through
one method, `submit(command)`; what the engine publishes comes out as typed messages, delivered
to observers in the order it was published. Every message is a small frozen dataclass that
pickles, so the same shapes cross a process boundary unchanged. Adding a control is one
dataclass here and one handler in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.views import Event, Snapshot

# ---- commands: operator -> engine ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetConcurrency:
    """Hold N = n agents from now on (the search, if any, is suspended)."""

    n: int


@dataclass(frozen=True, slots=True)
class Pause:
    """Agents finish their current request, then wait; the level restarts on resume."""


@dataclass(frozen=True, slots=True)
class Resume:
    pass


@dataclass(frozen=True, slots=True)
class SkipLevel:
    """End the current level now, decided on what has finished so far."""


@dataclass(frozen=True, slots=True)
class RepeatLevel:
    """Restart the current level's measurement (same N, fresh warm-up)."""


@dataclass(frozen=True, slots=True)
class Annotate:
    text: str


@dataclass(frozen=True, slots=True)
class Abort:
    reason: str = "aborted by the operator"


Command = SetConcurrency | Pause | Resume | SkipLevel | RepeatLevel | Annotate | Abort


def is_command(x: object) -> TypeGuard[Command]:
    return isinstance(x, SetConcurrency | Pause | Resume | SkipLevel | RepeatLevel | Annotate | Abort)


# ---- what the engine publishes: engine -> observers ---------------------------------------------


@dataclass(frozen=True, slots=True)
class SnapshotPublished:
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class EventLogged:
    event: Event


@dataclass(frozen=True, slots=True)
class StoreOpened:
    """Where the run is being stored (known once the engine has opened the store)."""

    path: str


@dataclass(frozen=True, slots=True)
class RunSummarised:
    summary: RunSummary


@dataclass(frozen=True, slots=True)
class RunFailed:
    error: BaseException


Published = SnapshotPublished | EventLogged | StoreOpened | RunSummarised | RunFailed


class Observer(Protocol):
    """Called on the engine's threads: an observer that draws hands over to its own loop and never
    blocks. `on_error` is optional (the engine stopped with an exception instead of a summary)."""

    def on_snapshot(self, snap: Snapshot) -> None: ...

    def on_event(self, event: Event) -> None: ...

    def on_finish(self, summary: RunSummary) -> None: ...


def deliver(observer: Any, message: Published) -> None:
    """Hand one published message to an observer's method for its kind."""
    match message:
        case SnapshotPublished(snapshot):
            observer.on_snapshot(snapshot)
        case EventLogged(event):
            observer.on_event(event)
        case RunSummarised(summary):
            observer.on_finish(summary)
        case RunFailed(error):
            failed = getattr(observer, "on_error", None)
            if failed is not None:
                failed(error)
        case StoreOpened():
            pass


class EngineControl(Protocol):
    """A run the console or the CLI controls: in this process (`EngineHandle`) or in a process of
    its own (`EngineProcess`). Every method is thread-safe."""

    @property
    def run_id(self) -> str | None: ...

    @property
    def store_path(self) -> str | None: ...

    def start(self) -> None: ...

    def submit(self, command: Command) -> None: ...

    def join(self, timeout: float | None = None) -> bool: ...

    def terminate(self) -> None:
        """Stop the engine at once when an abort was not enough (the store keeps what it has)."""


# ---- coordinator -> load workers, and their replies ----------------------------------------------
# A worker (a process on this machine, or a Ray actor on another) runs agents for the coordinator.
# Every command gets one reply; the coordinator asks for a report a few times a second.


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """Everything a worker needs to run its share of the agents."""

    index: int
    count: int
    """Workers in all; agent ids are index + count * k, unique across workers."""
    base_url: str
    api_key: str | None
    api: str
    model: str
    exact: bool
    exact_fields: tuple[str, ...]
    trajectories: tuple[Any, ...]
    """The trajectory set (loaded once by the coordinator, sent once)."""
    calibration: Any
    """The filler calibration (computed once by the coordinator), or None."""
    seed: int
    tool_delay: str
    think_time: bool
    limits: Any
    """RequestLimits of the run."""
    backend: str
    max_connections: int
    clock_zero: float | None
    """The coordinator's `perf_counter()` at its run clock's zero when the worker shares its
    machine (one monotonic clock: offset 0); None on another machine (its own zero, offset
    measured)."""


@dataclass(frozen=True, slots=True)
class StartWorker:
    spec: WorkerSpec


@dataclass(frozen=True, slots=True)
class SetShare:
    """Run n agents; new ones join spread over `spread_s`."""

    n: int
    spread_s: float


@dataclass(frozen=True, slots=True)
class Poll:
    """Hand over what finished since the last poll."""


@dataclass(frozen=True, slots=True)
class Ping:
    """For the clock offset: the reply carries the worker's clock."""


@dataclass(frozen=True, slots=True)
class StopWorker:
    """Stop every agent; requests still open are handed over as open at the end."""


WorkerCommand = StartWorker | SetShare | Pause | Resume | Poll | Ping | StopWorker


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """What a worker hands over: finished requests and trajectories, the requests in flight, and
    its agents. Times are on the worker's clock."""

    clock: float
    results: tuple[Any, ...]
    """RequestResult records, parsed in the worker (never anything per token)."""
    done: tuple[Any, ...]
    """TrajectoryDone records."""
    opens: Any
    """The requests in flight (an OpenBatch), taken before the finished ones were drained."""
    counts: Any
    """AgentCounts."""
    active: int


@dataclass(frozen=True, slots=True)
class WorkerFailed:
    """The command could not be carried out; the text says why."""

    error: str


WorkerReply = WorkerReport | WorkerFailed
