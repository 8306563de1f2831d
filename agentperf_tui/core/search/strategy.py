"""Which N to run next: exponential ramp then bisection (with a confirmation run), a fixed N,
or a list of N. Pure bookkeeping on pass/fail outcomes; no clock, no data.

With several tiers, each tier has its own bracket and every level serves each tier whose
bracket it lies in (docs/search.md, "Several tiers in one run")."""

from __future__ import annotations

import math
from collections.abc import Mapping
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

    def contains(self, n: int) -> bool:
        """n lies strictly inside the bracket: its outcome would narrow it."""
        return n > self.lo and (self.hi is None or n < self.hi)

    def best_pass_below(self, hi: int) -> int:
        """The highest N below hi whose every run passed (0 when none)."""
        ok = [m for m, outs in self.outcomes.items() if m < hi and outs and all(outs)]
        return max(ok, default=0)


def converged(p: SearchPlan, b: Bracket) -> bool:
    """The bracket is as narrow as the plan's tolerance asks."""
    if b.hi is None:
        return False
    return b.hi - b.lo <= max(p.tolerance_abs, math.floor(p.tolerance_frac * b.lo))


def bisection_gain(b: Bracket, n: int) -> float:
    """Bits a level at n is sure to take off the bracket's width (worst case of pass or fail)."""
    assert b.hi is not None and b.lo < n < b.hi
    return math.log2((b.hi - b.lo) / max(n - b.lo, b.hi - n))


class Strategy:
    """Feed each level's pass/fail per tier to `next`; None means the run is over.

    `brackets[k]` is tier k's bracket (one, unused, for a fixed run without a tier)."""

    def __init__(self, plan: SearchPlan) -> None:
        self.plan = plan
        self.brackets = [Bracket() for _ in (plan.tiers or (None,))]
        self._ramping = True
        self._ramp_n = 0
        self._sweep_i = 0
        self._count = 0

    @property
    def b(self) -> Bracket:
        """The first tier's bracket."""
        return self.brackets[0]

    def first(self) -> Step:
        p = self.plan
        if p.mode == "fixed":
            assert p.fixed_n is not None
            return Step(p.fixed_n, "fixed")
        if p.mode == "sweep":
            assert p.sweep
            return Step(p.sweep[0], "sweep")
        self._ramp_n = min(max(1, p.start_n), p.max_n)
        return Step(self._ramp_n, "ramp")

    def converged(self, k: int = 0) -> bool:
        return converged(self.plan, self.brackets[k])

    def done(self, k: int) -> bool:
        """Tier k needs no more levels (its N* is found and confirmed, or cannot be)."""
        if self.plan.mode != "search":
            return False
        return not self._needs_bisection(k) and not self._needs_confirmation(k)

    def needs(self, step: Step) -> dict[int, Role]:
        """The tiers a level at `step` serves, with the role it plays for each: every tier in a
        fixed run or a sweep; in a search, each tier whose bracket it lies in (ramp or bisect),
        or whose best passing N it repeats before that N is confirmed (confirm)."""
        ks = range(len(self.plan.tiers))
        if self.plan.mode != "search" or step.role == "hand":
            return {k: step.role for k in ks}
        out: dict[int, Role] = {}
        for k in ks:
            b = self.brackets[k]
            if self.done(k):
                continue
            if self.plan.confirm and b.lo > 0 and step.n == b.lo and b.lo not in b.confirmed:
                out[k] = "confirm"
            elif b.contains(step.n):
                out[k] = "ramp" if b.hi is None else "bisect"
        return out

    def next(
        self, n: int, role: Role, passed: bool | Mapping[int, bool], counts: bool = True
    ) -> Step | None:
        """The outcome of the level just run at n, for each tier it served (a bool: the same for
        all of them); `counts` False for a discarded level (rerun it)."""
        p = self.plan
        if not counts:
            return Step(n, role)
        roles = self.needs(Step(n, role))
        outcomes = {k: passed for k in roles} if isinstance(passed, bool) else dict(passed)
        self._count += 1
        for k, ok in outcomes.items():
            self._record(k, n, roles.get(k, role), ok)
        if p.mode == "fixed":
            return None
        if p.mode == "sweep":
            assert p.sweep
            self._sweep_i += 1
            return Step(p.sweep[self._sweep_i], "sweep") if self._sweep_i < len(p.sweep) else None
        step = self._search_step()
        if step is not None and self._count >= p.max_levels:
            for k, b in enumerate(self.brackets):
                if not self.done(k):
                    b.notes.append(f"stopped after {p.max_levels} levels (max_levels) before converging")
            return None
        return step

    def _record(self, k: int, n: int, role: Role, passed: bool) -> None:
        b = self.brackets[k]
        b.outcomes.setdefault(n, []).append(passed)
        if self.plan.mode != "search":
            return
        if role == "confirm":
            if passed:
                b.confirmed.add(n)
                return
            b.notes.append(f"N={n} passed once and failed its confirmation; treated as failing")
            b.hi = n if b.hi is None else min(b.hi, n)
            b.lo = b.best_pass_below(b.hi)
            return
        if passed:
            b.lo = max(b.lo, n)
        else:
            b.hi = n if b.hi is None else min(b.hi, n)
            if b.lo >= n:  # a lower level passed earlier yet this one failed: keep the bracket consistent
                b.lo = b.best_pass_below(n)

    def _search_step(self) -> Step | None:
        p = self.plan
        if self._ramping:
            ramping = [k for k, b in enumerate(self.brackets) if b.hi is None and not b.capped]
            if ramping and self._ramp_n >= p.max_n:
                for k in ramping:
                    b = self.brackets[k]
                    b.capped = True
                    b.notes.append(f"every level up to max_n={p.max_n} passed; the capacity may be higher")
            elif ramping:
                n = self._ramp_n
                self._ramp_n = min(p.max_n, max(n + 1, math.ceil(n * p.ramp_factor)))
                return Step(self._ramp_n, "ramp")
            self._ramping = False
        return self._best_step()

    def _needs_bisection(self, k: int) -> bool:
        b = self.brackets[k]
        return not b.capped and not converged(self.plan, b)

    def _needs_confirmation(self, k: int) -> bool:
        b = self.brackets[k]
        if b.lo <= 0 or not self.plan.confirm or b.lo in b.confirmed:
            return False
        if len(b.outcomes.get(b.lo, [])) >= 2:  # already run twice, and every run passed
            b.confirmed.add(b.lo)
            return False
        return True

    def _best_step(self) -> Step | None:
        """The next level after the ramp. The tiers are worked through from the highest bracket
        down, so the fleet mostly shrinks between tiers (retiring agents leaves the others in
        their stride; adding hundreds at once would not). Within the bracket (or the confirmation)
        of the tier at hand, the level taken is the one that takes the most off all the open
        brackets: the sum over tiers of the bits it is sure to take off each bracket it lies in,
        plus one for each tier whose best passing N it confirms. One tier: the bracket's
        midpoint, then its confirmation. Ties go to a bisection, then to the lower N."""
        ks = range(len(self.brackets))
        bisect = [k for k in ks if self._needs_bisection(k)]
        confirm = [k for k in ks if k not in bisect and self._needs_confirmation(k)]
        if not bisect and not confirm:
            return None

        def position(k: int) -> int:
            b = self.brackets[k]
            return b.hi if k in bisect and b.hi is not None else b.lo

        at = max([*bisect, *confirm], key=lambda k: (position(k), -k))
        b_at = self.brackets[at]
        assert at in confirm or b_at.hi is not None
        candidates = range(b_at.lo + 1, b_at.hi) if at in bisect and b_at.hi is not None else (b_at.lo,)
        confirms = [self.brackets[k].lo for k in confirm]
        best: tuple[float, bool, int] | None = None
        for n in candidates:
            gain = sum(bisection_gain(self.brackets[k], n) for k in bisect if self.brackets[k].contains(n))
            score = (gain + confirms.count(n), gain > 0, -n)
            if best is None or score > best:
                best = score
        assert best is not None
        return Step(-best[2], "bisect" if best[1] else "confirm")
