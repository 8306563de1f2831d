"""Which N to run next: exponential ramp then bisection (with a confirmation run), a fixed N,
or a list of N. Pure bookkeeping on pass/fail outcomes; no clock, no data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.summary.level import Role


@dataclass(frozen=True, slots=True)
class Step:
    n: int
    role: Role


@dataclass
class Bracket:
    """What the outcomes so far say: the highest N that passed, the lowest that failed."""

    lo: int = 0
    hi: int | None = None
    outcomes: dict[int, list[bool]] = field(default_factory=dict)
    confirmed: set[int] = field(default_factory=set)
    capped: bool = False
    """The ramp reached max_n and it passed: the capacity may be higher."""
    notes: list[str] = field(default_factory=list)


def converged(p: SearchPlan, b: Bracket) -> bool:
    """The bracket is as narrow as the plan's tolerance asks."""
    if b.hi is None:
        return False
    return b.hi - b.lo <= max(p.tolerance_abs, math.floor(p.tolerance_frac * b.lo))


class Strategy:
    """Feed each level's pass/fail to `next`; None means the run is over."""

    def __init__(self, plan: SearchPlan) -> None:
        self.plan = plan
        self.b = Bracket()
        self._phase = "ramp"
        self._sweep_i = 0
        self._count = 0

    def first(self) -> Step:
        p = self.plan
        if p.mode == "fixed":
            assert p.fixed_n is not None
            return Step(p.fixed_n, "fixed")
        if p.mode == "sweep":
            assert p.sweep
            return Step(p.sweep[0], "sweep")
        return Step(min(max(1, p.start_n), p.max_n), "ramp")

    def converged(self) -> bool:
        return converged(self.plan, self.b)

    def next(self, n: int, role: Role, passed: bool, counts: bool = True) -> Step | None:
        """The outcome of the level just run at n; `counts` False for a discarded level (rerun it)."""
        p, b = self.plan, self.b
        if not counts:
            return Step(n, role)
        self._count += 1
        b.outcomes.setdefault(n, []).append(passed)
        if p.mode == "fixed":
            return None
        if p.mode == "sweep":
            assert p.sweep
            self._sweep_i += 1
            return Step(p.sweep[self._sweep_i], "sweep") if self._sweep_i < len(p.sweep) else None
        step = self._search_next(n, role, passed)
        if step is not None and self._count >= p.max_levels:
            b.notes.append(f"stopped after {p.max_levels} levels (max_levels) before converging")
            return None
        return step

    def _search_next(self, n: int, role: Role, passed: bool) -> Step | None:
        p, b = self.plan, self.b
        if role == "confirm":
            if passed:
                b.confirmed.add(n)
                return None
            b.notes.append(f"N={n} passed once and failed its confirmation; treated as failing")
            b.hi = n if b.hi is None else min(b.hi, n)
            b.lo = self._best_pass_below(b.hi)
            return self._step()
        if passed:
            b.lo = max(b.lo, n)
        else:
            b.hi = n if b.hi is None else min(b.hi, n)
            if b.lo >= n:  # a lower level passed earlier yet this one failed: keep the bracket consistent
                b.lo = self._best_pass_below(n)
        if self._phase == "ramp" and b.hi is None:
            if n >= p.max_n:
                b.capped = True
                b.notes.append(f"every level up to max_n={p.max_n} passed; the capacity may be higher")
                return self._confirm_or_done()
            return Step(min(p.max_n, max(n + 1, math.ceil(n * p.ramp_factor))), "ramp")
        self._phase = "bisect"
        return self._step()

    def _best_pass_below(self, hi: int) -> int:
        """The highest N below hi whose every run passed (0 when none)."""
        ok = [m for m, outs in self.b.outcomes.items() if m < hi and outs and all(outs)]
        return max(ok, default=0)

    def _step(self) -> Step | None:
        b = self.b
        if self.converged():
            return self._confirm_or_done()
        assert b.hi is not None
        return Step((b.lo + b.hi) // 2, "bisect")

    def _confirm_or_done(self) -> Step | None:
        b, p = self.b, self.plan
        if b.lo <= 0 or not p.confirm or b.lo in b.confirmed:
            return None
        if len(b.outcomes.get(b.lo, [])) >= 2:  # already run twice, and every run passed
            b.confirmed.add(b.lo)
            return None
        return Step(b.lo, "confirm")
