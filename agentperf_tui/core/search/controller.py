"""The concurrency controller the engine drives: a synchronous state machine, no I/O, no threads.
How to drive it is in docs/search.md ("The controller")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from agentperf_tui.core import fmt
from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.energy import EnergyFn, no_energy
from agentperf_tui.core.search.level import Level
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.result import SearchResult, build_result
from agentperf_tui.core.search.strategy import Step, Strategy
from agentperf_tui.core.search.window import OpenFn
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.result import TierResult
from agentperf_tui.core.views import SearchView, TierBracketView


@dataclass(frozen=True, slots=True)
class RunAt:
    """Run n agents from now (add or retire agents; never restart the fleet)."""

    n: int


@dataclass(frozen=True, slots=True)
class Finished:
    result: SearchResult


Decision = RunAt | Finished


class SearchController:
    def __init__(self, plan: SearchPlan) -> None:
        self.plan = plan
        self.strategy = Strategy(plan)
        self.records: list[LevelRecord] = []
        self.level: Level | None = None
        self._first_counted = 0
        """Index of the first record the result is judged on (levels before a hand-set N are kept
        on record but belong to the suspended search)."""
        self._held_note: str | None = None
        self._budget_note: str | None = None
        self._result: SearchResult | None = None
        self._started_at: float | None = None
        self._energy: EnergyFn = no_energy

    # ---- engine side --------------------------------------------------------------------------
    def start(self, now: float) -> int:
        """Begin the first level; returns the N to run."""
        if self._started_at is not None:
            raise RuntimeError("SearchController.start called twice")
        self._started_at = now
        return self._begin(self.strategy.first(), now).n

    @property
    def finished(self) -> bool:
        return self._result is not None

    def tick(
        self,
        now: float,
        results: Sequence[RequestResult],
        trajectories_done: Sequence[tuple[int, float, float]],
        active_agents: int,
        energy: EnergyFn | None = None,
        opens: OpenFn | None = None,
        leaving_agents: int = 0,
    ) -> Decision | None:
        if energy is not None:
            self._energy = energy
        if self._result is not None or self.level is None:
            return None
        rec = self.level.feed(now, results, trajectories_done, active_agents, opens, leaving_agents)
        if rec is None:
            if self._over_budget(now):
                why = "the search's time budget ran out before this level was decided; not counted"
                self._store(self.level.discard(now, why))
                return self._finish_early(now)
            return None
        return self._advance(rec, now)

    def skip_level(self, now: float) -> Decision | None:
        """Operator: end the current level now, decided on what has finished so far."""
        if self._result is not None or self.level is None:
            return None
        return self._advance(self.level.skip(now), now)

    def repeat_level(self, now: float) -> Decision | None:
        """Operator: restart the current level's measurement from now (same N, fresh warm-up).

        The abandoned attempt stays on record as "discarded". Returns None (N is unchanged)."""
        if self._result is not None or self.level is None:
            return None
        lv = self.level
        self._store(lv.discard(now))
        self._begin(Step(lv.n, lv.role), now)
        return None

    def hold(self, n: int, now: float) -> RunAt:
        """Operator: hold N = n from now until the run is stopped. The open level is kept on record
        as discarded (it was interrupted), the search is suspended, and the run goes on as a
        fixed-N run whose result is judged on the levels from here on."""
        if self.level is not None and self._result is None:
            rec = self._store(self.level.discard(now))
            why = f"interrupted: N set by hand to {n}; not counted"
            self.records[-1] = rec.model_copy(update={"reason": why})
        self.plan = replace(self.plan, mode="fixed", fixed_n=n)
        self.strategy = Strategy(self.plan)
        self._result = None
        self._first_counted = len(self.records)
        self._held_note = f"N set by hand to {n} after level {len(self.records)}: the search was suspended"
        self._begin(Step(n, "hand"), now)
        return RunAt(n)

    def end_run(self, now: float, *, conclude: bool) -> SearchResult | None:
        """The run is ending. An open level is decided on what has finished and kept, with its
        power; with `conclude` (a fixed-N run that reached its duration) that decides the result.
        A search or sweep cut short has no result: its bracket was never closed."""
        if self._result is not None or self.level is None:
            return self._result
        self._store(self.level.end_of_run(now))
        self.level = None
        if conclude and self.plan.mode == "fixed":
            assert self._started_at is not None
            self._result = self._build(now)
        return self._result

    def result(self) -> SearchResult | None:
        return self._result

    # ---- internals --------------------------------------------------------------------------
    def _begin(self, step: Step, now: float) -> Level:
        self.level = Level(len(self.records), step.n, step.role, now, self.plan, self.strategy.needs(step))
        return self.level

    def _store(self, rec: LevelRecord) -> LevelRecord:
        if rec.measure_from is not None and rec.window_end is not None and rec.window_end > rec.measure_from:
            w = self._energy(rec.measure_from, rec.window_end)
            if w is not None:
                rec = rec.model_copy(
                    update={
                        "energy_j": w.energy_j,
                        "mean_power_w": w.mean_power_w,
                        "power_method": w.method,
                        "power_simulated": w.simulated,
                        "power_note": w.note,
                    }
                )
            else:
                rec = rec.model_copy(update={"power_note": "no power telemetry"})
        self.records.append(rec)
        return rec

    def _advance(self, rec: LevelRecord, now: float) -> Decision:
        rec = self._store(rec)
        outcomes = {k: v.passed for k, v in enumerate(rec.tiers) if v.used}
        step = self.strategy.next(rec.n, rec.role, outcomes)
        if step is None:
            assert self._started_at is not None
            self._result = self._build(now)
            self.level = None
            return Finished(self._result)
        if self._over_budget(now):
            return self._finish_early(now)
        self._begin(step, now)
        return RunAt(step.n)

    def _over_budget(self, now: float) -> bool:
        budget = self.plan.budget_s
        return (
            budget is not None and self.plan.mode == "search" and self._started_at is not None
            and now - self._started_at >= budget
        )  # fmt: skip

    def _finish_early(self, now: float) -> Finished:
        """The time budget ran out: the search ends with the bracket it has."""
        assert self.plan.budget_s is not None
        self.level = None
        self._budget_note = (
            f"the {fmt.duration(self.plan.budget_s)} time budget ran out after "
            f"{fmt.plural(len(self.records), 'level')}: the search ended with the bracket it had"
        )
        self._result = self._build(now)
        return Finished(self._result)

    def _build(self, now: float) -> SearchResult:
        assert self._started_at is not None
        res = build_result(
            self.plan, self.strategy.brackets, self.records, self._started_at, now,
            counted_from=self._first_counted,
        )
        if self._held_note is not None:
            held = tuple(r.model_copy(update={"notes": (self._held_note, *r.notes)}) for r in res.results)
            res = replace(res, results=held)
        if self._budget_note is not None:
            res = replace(res, results=tuple(
                r.model_copy(update={"notes": (f"{self._budget_note}: {_bracket_text(r)}", *r.notes)})
                for r in res.results
            ))  # fmt: skip
        return res

    # ---- views ------------------------------------------------------------------------------
    def level_view(self) -> LevelRecord | None:
        if self.level is not None:
            return self.level.view()
        return self.records[-1] if self.records else None

    def levels(self) -> list[LevelRecord]:
        """Every level of the run so far, the open one (live) last."""
        if self.level is not None:
            return [*self.records, self.level.view()]
        return list(self.records)

    def view(self) -> SearchView:
        p = self.plan
        levels = self.levels()
        brackets = tuple(self._bracket_view(k) for k in range(len(p.tiers)))
        first = brackets[0] if brackets else None
        return SearchView(
            mode=p.mode,
            rigour=p.rigour,
            tier=first.tier if first else "none",
            speed_floor=first.speed_floor if first else float("nan"),
            ttft_limit=first.ttft_limit if first else float("nan"),
            levels=tuple(levels),
            best_pass=first.best_pass if first else None,
            lowest_fail=first.lowest_fail if first else None,
            done=self._result is not None,
            result_n=self._result.primary.n_star if self._result is not None else None,
            tiers=brackets,
        )

    def _bracket_view(self, k: int) -> TierBracketView:
        p, tier = self.plan, self.plan.tiers[k]
        b = self.strategy.brackets[k]
        if p.mode == "search":
            best_pass, lowest_fail = (b.lo if b.lo > 0 else None), b.hi
        else:
            counted = [
                (r.n, v.passed)
                for r in self.records[self._first_counted :]
                if r.decided and (v := r.for_tier(tier.name)) is not None
            ]
            best_pass = max((n for n, ok in counted if ok), default=None)
            lowest_fail = min((n for n, ok in counted if not ok), default=None)
        return TierBracketView(
            tier=tier.name,
            speed_floor=tier.speed_tok_s,
            ttft_limit=tier.ttft_s,
            best_pass=best_pass,
            lowest_fail=lowest_fail,
            converged=p.mode == "search" and (b.capped or self.strategy.converged(k)),
            done=self.strategy.done(k) or self._result is not None,
            result_n=self._result.results[k].n_star if self._result is not None else None,
        )


def _bracket_text(r: TierResult) -> str:
    """Where a tier's search stood when it was cut short."""
    if r.converged:
        return f"N*={r.n_star} had converged"
    low = f"N*>={r.n_star} (passed)" if r.n_star else "no level passed yet"
    if r.first_fail_n is None:
        return f"{low}, no level failed yet: N* is a lower bound"
    return f"{low}, N={r.first_fail_n} failed: the bracket was not closed"
