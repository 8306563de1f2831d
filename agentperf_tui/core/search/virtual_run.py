"""Run a search on a virtual clock: the controller fed by a load model instead of real agents.

Answers "how many agents would this deployment hold at this tier?" in seconds (the `plan`
command), and is the ground truth the search is tested against.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.controller import Finished, RunAt, SearchController
from agentperf_tui.core.search.energy import CounterLog
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.result import SearchResult
from agentperf_tui.core.search.window import OpenRequest


class VirtualLoadLike(Protocol):
    """A closed-loop load on a virtual clock (the simulator's VirtualLoad, or a test model)."""

    @property
    def now(self) -> float: ...

    @property
    def active_agents(self) -> int: ...

    @property
    def leaving_agents(self) -> int:
        """Agents retired by a change of N whose last requests are still in flight."""
        ...

    @property
    def energy_j(self) -> float: ...

    def set_concurrency(self, n: int) -> None: ...

    def advance(self, seconds: float) -> list[RequestResult]: ...

    def trajectories_completed(self) -> Sequence[tuple[int, float, float]]:
        """Trajectories finished since the previous call: (agent_id, t_start, t_end)."""
        ...

    def open_requests(self) -> Sequence[OpenRequest]:
        """The requests in flight now."""
        ...


class VirtualRunError(RuntimeError):
    pass


def run_search_virtual(
    plan: SearchPlan,
    load: VirtualLoadLike,
    tick_s: float = 1.0,
    *,
    power_simulated: bool = True,
    max_virtual_s: float | None = None,
    on_tick: Callable[[SearchController], None] | None = None,
) -> SearchResult:
    """Drive a SearchController from `load` until it finishes; energy from the load's counter."""
    if tick_s <= 0:
        raise ValueError("tick_s must be > 0")
    with _rare_collections():
        return _run(plan, load, tick_s, power_simulated, max_virtual_s, on_tick)


GEN0_THRESHOLD = 100_000
"""Allocations between two young-generation collections while a virtual search runs."""


@contextlib.contextmanager
def _rare_collections() -> Iterator[None]:
    """Collect reference cycles less often while a search runs: it allocates millions of short-
    lived objects (requests, results), freed by reference counting, and at the default threshold
    (700) the cycle collector ran over a thousand times a search, a seventh of its time, for
    nothing to collect. The thresholds are restored afterwards."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], GEN0_THRESHOLD), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _run(
    plan: SearchPlan,
    load: VirtualLoadLike,
    tick_s: float,
    power_simulated: bool,
    max_virtual_s: float | None,
    on_tick: Callable[[SearchController], None] | None,
) -> SearchResult:
    ctl = SearchController(plan)
    energy = CounterLog(simulated=power_simulated, method="simulated energy counter delta / duration"
                        if power_simulated else "energy counter delta / duration")
    t0 = load.now
    energy.add(t0, load.energy_j)
    load.set_concurrency(ctl.start(t0))
    limit = max_virtual_s if max_virtual_s is not None else _default_limit(plan)
    while True:
        results = load.advance(tick_s)
        now = load.now
        energy.add(now, load.energy_j)
        done = list(load.trajectories_completed())
        decision = ctl.tick(
            now, results, done, load.active_agents, energy.window, load.open_requests, load.leaving_agents
        )
        if on_tick is not None:
            on_tick(ctl)
        if isinstance(decision, RunAt):
            load.set_concurrency(decision.n)
        elif isinstance(decision, Finished):
            return decision.result
        if now - t0 > limit:
            raise VirtualRunError(
                f"the search did not finish within {limit:.0f} s of virtual time "
                f"({len(ctl.records)} levels done); raise max_virtual_s or check the plan"
            )


def _default_limit(plan: SearchPlan) -> float:
    return plan.max_levels * (plan.timeout + 600.0)
