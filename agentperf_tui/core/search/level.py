"""One concurrency level's lifecycle: transition -> warm-up -> measuring -> settled, with strict
mode's closing rules and fast mode's early stopping (docs/search.md explains both and the error
control of the looks). One window, judged against each SLO tier of the run with its own
thresholds; a fast level ends when every tier it is run for is settled ("Several tiers in one
run").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.criteria import (
    CriterionEval,
    combined_verdict,
    failing_criterion,
    judge_speed,
    judge_ttft,
    judge_window,
)
from agentperf_tui.core.search.plan import SearchPlan
from agentperf_tui.core.search.window import LevelWindow, OpenFn, SentInOrder, WindowData
from agentperf_tui.core.summary.level import NO_DATA, LevelRecord, Outcome, Phase, Role, TierVerdict, Verdict
from agentperf_tui.core.tiers import SloTier, fmt_num


def look_alpha(alpha: float, k: int) -> float:
    """Error budget of the k-th look (1-based) for one criterion."""
    return alpha / (k * (k + 1)) / 2.0


def _fmt(x: float, unit: str) -> str:
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3g} {unit}"


@dataclass(frozen=True, slots=True)
class _Judged:
    """Both criteria of a tier on one window. With open requests in it, `speed` and `ttft` count
    each one that may still miss as a miss (what a pass must hold on; their `p_fail` is taken
    the other way), and `best` has each at the best value it can still reach (what a fail rests
    on: whatever the open requests do, the tier is missed at least this badly)."""

    speed: CriterionEval
    ttft: CriterionEval
    best: tuple[CriterionEval, CriterionEval]


@dataclass(frozen=True, slots=True)
class _Settled:
    """A tier's verdict, settled at one look of a fast level and kept from then on."""

    judged: _Judged
    requests: int
    look: int


@dataclass(frozen=True, slots=True)
class _Shown:
    """What a level reports for a tier: the failing criterion and the two figures with their
    confidence bounds."""

    failing: str | None
    speed_p25: float
    ttft_p95: float
    speed_bounds: tuple[float, float]
    ttft_bounds: tuple[float, float]


def _shown(j: _Judged, passed: bool) -> _Shown:
    """A pass is reported as it was judged (open requests that may still miss counted as
    misses). A fail is reported on what it is known to have missed: open requests at the best
    they can still reach (so its P25 speed is at most, its P95 TTFT at least, what it shows), the
    criteria that fail even so named, and a figure they leave unbounded (a P25 speed over
    requests a quarter or more of which have no first token yet) unknown; only when neither
    criterion fails that way (the open requests, counted as misses, tip a level whose verdict
    was not settled) is it reported as judged for a pass."""
    s, t = j.speed, j.ttft
    if passed:
        return _Shown(None, s.estimate, t.estimate, s.bounds, t.bounds)
    broke = failing_criterion(*j.best)
    if broke is None:
        return _Shown(failing_criterion(s, t), s.estimate, t.estimate, s.bounds, t.bounds)
    s, t = j.best
    if s is j.speed:  # no open request: the figures are as measured
        return _Shown(broke, s.estimate, t.estimate, s.bounds, t.bounds)
    speed = s.estimate if math.isfinite(s.estimate) else math.nan
    return _Shown(broke, speed, t.estimate, s.bounds, t.bounds)


class Level:
    def __init__(
        self,
        index: int,
        n: int,
        role: Role,
        started_at: float,
        plan: SearchPlan,
        needed: Mapping[int, Role] | None = None,
    ) -> None:
        """`needed`: the tiers (indices in plan.tiers) the level is run for, with its role for
        each (default: every tier, in the level's role). A fast level ends when each of them is
        settled; the others are judged on the same window when it ends."""
        self.index = index
        self.n = n
        self.role: Role = role
        self.started_at = started_at
        self.plan = plan
        self.phase: Phase = "transition"
        self.win = LevelWindow(n)
        self.close_at: float | None = None
        self.rules_met: bool | None = None
        self.looks = 0
        self.unsteady_s = 0.0
        self._next_look_n = plan.min_requests
        self._last_now = started_at
        self._now = started_at
        self._record: LevelRecord | None = None
        self._rules_note = ""
        self._opens: OpenFn | None = None
        """The requests in flight; without it, a level is judged on its complete prefix only."""
        self.tiers: tuple[SloTier, ...] = tuple(plan.tiers)
        self.needed: dict[int, Role] = (
            dict(needed) if needed is not None else {k: role for k in range(len(self.tiers))}
        )
        self._settled: dict[int, _Settled] = {}
        self._leaving = 0
        self._leaving_allowed = math.floor(plan.hold_leaving_fraction * n)
        """Agents retired by the change of N that may still be finishing when the level holds."""

    # ---- progress ---------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._record is not None

    @property
    def record(self) -> LevelRecord | None:
        return self._record

    @property
    def held_at(self) -> float | None:
        return self.win.held_at

    @property
    def measure_from(self) -> float | None:
        return self.win.measure_from

    def feed(
        self,
        now: float,
        results: Sequence[RequestResult],
        trajectories: Sequence[tuple[int, float, float]],
        active_agents: int,
        opens: OpenFn | None = None,
        leaving_agents: int = 0,
    ) -> LevelRecord | None:
        """Advance the level; returns its record when it has just ended. `opens` gives the
        requests in flight now (asked only when the level is judged); `leaving_agents` the agents
        the load still holds besides the active ones (retired ones finishing their last requests)."""
        if self.done:
            return self._record
        if opens is not None:
            self._opens = opens
        dt, self._last_now, self._now = now - self._last_now, now, now
        w = self.win
        self._leaving = leaving_agents
        if self.phase == "transition" and active_agents == self.n and leaving_agents <= self._leaving_allowed:
            w.hold(now)
            self.phase = "warmup"
        elif self.phase == "warmup" and active_agents != self.n:
            w.hold(None)
            self.phase = "transition"
        if self.phase == "warmup" and w.held_at is not None and now >= w.held_at + self.plan.warmup:
            w.measure_from = w.held_at + self.plan.warmup
            self.phase = "measuring"
        elif self.phase == "measuring" and active_agents != self.n:
            self.unsteady_s += max(0.0, dt)
        w.add(results, trajectories)
        if self.phase == "measuring":
            if self.plan.rigour == "strict":
                self._strict_step(now)
            else:
                self._fast_step(now)
        if not self.done and now - self.started_at >= self.plan.timeout:
            end = self.close_at if self.close_at is not None else self._best_end(now)
            self._finish(now, end, f"level timeout after {self.plan.timeout:.0f} s")
        return self._record

    def _pending(self) -> list[int]:
        """The tiers the level is run for whose verdict is not settled yet."""
        return [k for k in self.needed if k not in self._settled]

    def _best_end(
        self, now: float, open_fraction: float = 0.0, short_of: Callable[[], float] | None = None
    ) -> float | None:
        """The end of the window a level is judged on now: every request sent before it is
        accounted for (see LevelWindow.accounted_through) under the thresholds of each tier still
        waiting for a verdict, so the one window serves them all; with `open_fraction`, up to that
        share of them may be requests still in flight, counted as censored values. With
        `short_of`, an end known to be at or before the time it gives may be returned as soon as it
        is known (the caller only needs to know that the window does not reach past it); it is
        asked only when the requests in flight do not come in send order (those stop at the first
        request that holds the window back anyway)."""
        if self.measure_from is None:
            return None
        if self._opens is None:
            # Without the requests in flight only the complete prefix is known (nothing, while an
            # agent has not reported since the level held).
            c = self.win.complete_through()
            return max(self.measure_from, c) if c is not None else self.measure_from
        opens = self._opens()
        governing = self._pending() or list(self.needed) or list(range(len(self.tiers)))
        f = open_fraction
        w = self.win
        stop = short_of() if short_of is not None and not isinstance(opens, SentInOrder) else -math.inf
        ends = [w.accounted_through(opens, now, self._thresholds(k), f, stop) for k in governing]
        end = min(ends) if ends else w.accounted_through(opens, now, self._thresholds(None), f, stop)
        return max(self.measure_from, end)

    def _thresholds(self, k: int | None) -> tuple[float, float]:
        if k is None or k >= len(self.tiers):
            return (0.0, math.inf)
        tier = self.tiers[k]
        return (tier.speed_tok_s, tier.ttft_s)

    def _data(self, end: float, now: float, k: int | None) -> WindowData:
        """The window up to `end`, open requests sent inside it counted as censored values
        against tier k's thresholds."""
        opens = self._opens() if self._opens is not None else ()
        return self.win.data(end, opens, now, self._thresholds(k))

    def _strict_step(self, now: float) -> None:
        p, w = self.plan, self.win
        assert w.measure_from is not None
        if self.close_at is None:
            elapsed = now - w.measure_from
            total, per_agent = w.trajectory_counts(now)
            agents_ok = sum(1 for c in per_agent if c >= p.min_trajectories_per_agent)
            met = (
                elapsed >= p.min_steady_s and total >= p.min_trajectories and agents_ok >= self.n
            )
            if met or elapsed >= p.strict_cap_s:
                self.close_at = now
                self.rules_met = met and p.published_rules
                self._rules_note = (
                    f"{elapsed:.0f} s measured, {total} trajectories completed, "
                    f"{agents_ok}/{self.n} agents with >= {p.min_trajectories_per_agent}"
                )
                if not met:
                    self._rules_note += f"; strict requirements not met within {p.strict_cap_s:.0f} s"
                elif not p.published_rules:
                    self._rules_note += "; settings below the published rules"
        if self.close_at is not None:
            c = self._best_end(now)
            if c is not None and c >= self.close_at:
                self._finish(now, self.close_at, "strict: " + self._rules_note)

    def _fast_step(self, now: float) -> None:
        p, w = self.plan, self.win
        assert w.measure_from is not None
        capped = now - w.measure_from >= p.fast_cap_s
        if not capped and (
            now - w.measure_from < p.fast_min_s or w.received < max(p.min_requests, self._next_look_n)
        ):
            return  # no look can be due yet: the window ends by now and counts what was reported
        # the last look, at the cap, may take in a few requests still in flight (censored), so a
        # long reply sent early in the window does not cut it to its first seconds. Before the
        # cap, a look needs the window to reach past the send time of the request that would make
        # its count: a window found to end at or before it is not looked at, however far short.
        wanted = max(p.min_requests, self._next_look_n)
        if capped:
            c = self._best_end(now, p.cap_open_fraction)
        else:
            c = self._best_end(now, 0.0, lambda: w.kth_sent(wanted))
        if c is not None and c > w.measure_from:
            n_req = w.count_before(c)
            due = (
                n_req >= wanted
                and c - w.measure_from >= p.fast_min_s
                and w.trajectory_counts(c)[0] >= p.fast_min_trajectories_per_agent * self.n
            )
            if due or capped:
                self.looks += 1
                a = look_alpha(p.alpha, self.looks)
                datas = {k: self._data(c, now, k) for k in self._pending()}
                n_data = next(iter(datas.values())).n if datas else self._data(c, now, None).n
                for k, d in datas.items():
                    j = self._judge(d, a, k)
                    if combined_verdict(j.speed.settled, j.ttft.settled) != "undecided":
                        self._settled[k] = _Settled(j, n_data, self.looks)
                if self.needed and not self._pending():
                    self._finish(now, c, f"settled after {n_data} requests (look {self.looks})")
                    return
                self._next_look_n = max(n_data + 1, math.ceil(n_data * p.look_growth))
        if capped:
            self._finish(now, c, f"time cap {p.fast_cap_s:.0f} s reached")

    def _judge(self, d: WindowData, alpha: float, k: int) -> _Judged:
        """Both criteria of tier k. With open requests in the window, a pass must hold with every
        one that may still miss counted as a miss, and a fail with every one at the best it can
        still reach."""
        tier = self.tiers[k]
        s, t = judge_window(
            d.speeds, d.ttfts, d.t, d.speed_raw, d.ttft_raw, tier.speed_tok_s, tier.ttft_s, alpha,
            self.plan.block_s,
        )
        if d.open and d.speeds_hi is not None and d.ttfts_lo is not None:
            assert d.speed_raw_hi is not None and d.ttft_raw_lo is not None
            s_best, t_best = judge_window(
                d.speeds_hi, d.ttfts_lo, d.t, d.speed_raw_hi, d.ttft_raw_lo, tier.speed_tok_s, tier.ttft_s,
                alpha, self.plan.block_s,
            )
            s, t = replace(s, p_fail=s_best.p_fail), replace(t, p_fail=t_best.p_fail)
            return _Judged(s, t, (s_best, t_best))
        return _Judged(s, t, (s, t))

    # ---- endings ----------------------------------------------------------------------------
    def _verdict(
        self, k: int, data: WindowData | None, outcome: Outcome
    ) -> tuple[TierVerdict, _Shown | None]:
        """Tier k's verdict on the level's final window, or the one it settled at an earlier look;
        with what the final window shows for it (None without data)."""
        p, tier = self.plan, self.tiers[k]
        base = TierVerdict(
            tier=tier.name, speed_tok_s=tier.speed_tok_s, ttft_s=tier.ttft_s,
            used=k in self.needed, role=self.needed.get(k),
        )  # fmt: skip
        if data is None or data.n == 0:
            return base.model_copy(update={"failing_criterion": NO_DATA}), None
        a = p.alpha / 2.0 if p.rigour == "strict" else look_alpha(p.alpha, max(1, self.looks))
        j = self._judge(data, a, k)
        s, t = j.speed, j.ttft
        kept = self._settled.get(k)
        if kept is not None:
            on = kept.judged
            speed_v, ttft_v = on.speed.settled, on.ttft.settled
            settled, confidence, requests, looks = True, p.confidence, kept.requests, kept.look
        else:
            on, requests, looks = j, data.n, self.looks
            if p.rigour == "strict" or outcome in ("skipped", "ended"):
                speed_v, ttft_v = s.leaning, t.leaning
                settled = False
            else:
                speed_v, ttft_v = s.settled, t.settled
                settled = combined_verdict(speed_v, ttft_v) != "undecided"
            confidence = _one_shot_confidence(s, t)
        verdict = combined_verdict(speed_v, ttft_v)
        leaning = combined_verdict(on.speed.leaning, on.ttft.leaning)
        passed = verdict == "pass" or (
            verdict == "undecided" and p.undecided_as == "estimate" and leaning == "pass"
        )
        shown = _shown(on, passed)
        entry = base.model_copy(
            update={
                "speed_verdict": speed_v,
                "ttft_verdict": ttft_v,
                "verdict": verdict,
                "passed": passed and outcome != "discarded",
                "settled": settled,
                "confidence": confidence,
                "failing_criterion": shown.failing,
                "speed_p25": shown.speed_p25,
                "ttft_p95": shown.ttft_p95,
                "requests": requests,
                "looks": looks,
            }
        )
        return entry, _shown(j, passed)

    def _finish(self, now: float, end: float | None, why: str, outcome: Outcome = "measured") -> LevelRecord:
        p = self.plan
        mf = self.measure_from
        total, per_agent = self.win.trajectory_counts(end if end is not None else -math.inf)
        agents_ok = sum(1 for c in per_agent if c >= p.min_trajectories_per_agent)
        entries: list[TierVerdict] = []
        final: _Shown | None = None
        data: WindowData | None = None
        for k in range(len(self.tiers)):
            d = self._data(end, now, k) if end is not None and mf is not None else None
            entry, evals = self._verdict(k, d, outcome)
            entries.append(entry)
            if k == 0:
                data, final = d, evals
        if not self.tiers and end is not None and mf is not None:
            data = self._data(end, now, None)
        n_req = data.n if data is not None else 0
        first = entries[0] if entries else None
        sp25, tp95 = math.nan, math.nan
        sb: tuple[float, float] = (math.nan, math.nan)
        tb: tuple[float, float] = (math.nan, math.nan)
        reason = why
        if first is not None and final is not None:
            tier = self.tiers[0]
            sp25, tp95, sb, tb = final.speed_p25, final.ttft_p95, final.speed_bounds, final.ttft_bounds
            reason += (
                f"; P25 speed {_fmt(first.speed_p25, 'tok/s')} vs >= {fmt_num(tier.speed_tok_s)}"
                f", P95 TTFT {_fmt(first.ttft_p95, 's')} vs <= {fmt_num(tier.ttft_s)}"
            )
            if not first.passed and data is not None and data.open and first.failing_criterion != NO_DATA:
                reason += f" ({data.open} requests still open, each at the best it can still reach)"
            if first.verdict == "undecided":
                reason += f"; undecided, counted as {'pass' if first.passed else 'fail'}"
            if len(entries) > 1:
                reason += "; other tiers: " + ", ".join(f"{e.short_name} {e.word()}" for e in entries[1:])
        elif data is not None and n_req > 0:
            s, t = judge_speed(data.speeds, 0.0, p.alpha / 2), judge_ttft(data.ttfts, math.inf, p.alpha / 2)
            sp25, tp95, sb, tb = s.estimate, t.estimate, s.bounds, t.bounds
            reason += "; no SLO tier: measured only"
        else:
            reason += "; no request counted" + ("" if not self.tiers else ", counted as a fail")
        legacy = first if first is not None else TierVerdict(tier="")
        self._record = LevelRecord(
            index=self.index,
            n=self.n,
            role=self.role,
            outcome=outcome,
            started_at=self.started_at,
            held_at=self.held_at,
            measure_from=mf,
            window_end=end,
            ended_at=now,
            requests=n_req,
            failed=data.failed if data is not None else 0,
            speed_p25=sp25,
            speed_p25_bounds=sb,
            ttft_p95=tp95,
            ttft_p95_bounds=tb,
            speed_verdict=legacy.speed_verdict,
            ttft_verdict=legacy.ttft_verdict,
            verdict=legacy.verdict,
            passed=legacy.passed,
            settled=legacy.settled,
            confidence=legacy.confidence,
            failing_criterion=legacy.failing_criterion,
            reason=reason,
            open_counted=data.open if data is not None else 0,
            trajectories_completed=total,
            agents_with_min_trajectories=agents_ok,
            meets_rules=self.rules_met if p.rigour == "strict" else None,
            looks=self.looks,
            unsteady_s=self.unsteady_s,
            tiers=tuple(entries),
        )
        self.phase = "settled"
        return self._record

    def skip(self, now: float) -> LevelRecord:
        """The operator ends the level now: decided by the point estimate of what has finished."""
        if self._record is not None:
            return self._record
        end = self._best_end(now)
        return self._finish(now, end, "ended early by the operator", outcome="skipped")

    def end_of_run(self, now: float) -> LevelRecord:
        """The run ends with this level open: decided by the point estimate of what has finished."""
        if self._record is not None:
            return self._record
        end = self._best_end(now)
        return self._finish(now, end, "the run ended before the level settled", outcome="ended")

    def discard(self, now: float, reason: str = "restarted by the operator; not counted") -> LevelRecord:
        """The level is abandoned (restarted by the operator, or the search ran out of time): this
        attempt is kept on record but does not count."""
        if self._record is not None:
            return self._record
        end = self._best_end(now)
        return self._finish(now, end, reason, outcome="discarded")

    # ---- live view --------------------------------------------------------------------------
    def view(self) -> LevelRecord:
        if self._record is not None:
            return self._record
        p, w = self.plan, self.win
        sp25 = tp95 = math.nan
        sb: tuple[float, float] = (math.nan, math.nan)
        tb: tuple[float, float] = (math.nan, math.nan)
        n_req = failed = 0
        entries = [
            TierVerdict(
                tier=tier.name, speed_tok_s=tier.speed_tok_s, ttft_s=tier.ttft_s,
                used=k in self.needed, role=self.needed.get(k),
            )
            for k, tier in enumerate(self.tiers)
        ]  # fmt: skip
        c = w.complete_through(self._opens() if self._opens is not None else ())
        if self.phase == "measuring" and c is not None and w.measure_from is not None and c > w.measure_from:
            d = w.data(c)
            n_req, failed = d.n, d.failed
            if d.n:
                a = look_alpha(p.alpha, self.looks + 1) if p.rigour == "fast" else p.alpha / 2
                for k, entry in enumerate(entries):
                    j = self._judge(d, a, k)
                    s, t = j.speed, j.ttft
                    kept = self._settled.get(k)
                    sv: Verdict = "undecided"
                    tv: Verdict = "undecided"
                    if kept is not None:
                        sv, tv = kept.judged.speed.settled, kept.judged.ttft.settled
                    elif p.rigour == "fast":
                        sv, tv = s.settled, t.settled
                    verdict = combined_verdict(sv, tv)
                    entries[k] = entry.model_copy(
                        update={
                            "speed_verdict": sv, "ttft_verdict": tv, "verdict": verdict,
                            "passed": kept is not None and verdict == "pass", "settled": kept is not None,
                            "speed_p25": s.estimate, "ttft_p95": t.estimate, "requests": d.n,
                            "looks": kept.look if kept is not None else self.looks,
                        }
                    )  # fmt: skip
                    if k == 0:
                        sp25, tp95, sb, tb = s.estimate, t.estimate, s.bounds, t.bounds
                if not self.tiers:
                    s, t = judge_speed(d.speeds, 0.0, a), judge_ttft(d.ttfts, math.inf, a)
                    sp25, tp95, sb, tb = s.estimate, t.estimate, s.bounds, t.bounds
        first = entries[0] if entries else TierVerdict(tier="")
        total, _ = w.trajectory_counts(self._now)
        return LevelRecord(
            index=self.index,
            n=self.n,
            role=self.role,
            phase=self.phase,
            started_at=self.started_at,
            held_at=w.held_at,
            measure_from=w.measure_from,
            requests=n_req,
            failed=failed,
            speed_p25=sp25,
            speed_p25_bounds=sb,
            ttft_p95=tp95,
            ttft_p95_bounds=tb,
            speed_verdict=first.speed_verdict,
            ttft_verdict=first.ttft_verdict,
            verdict=first.verdict,
            reason=self._status(),
            trajectories_completed=total if w.measure_from is not None else 0,
            tiers=tuple(entries),
        )

    def _status(self) -> str:
        p, w, now = self.plan, self.win, self._now
        if self.phase == "transition":
            if self._leaving > self._leaving_allowed:
                return f"waiting for {self._leaving} retired agents to finish their last requests"
            return f"waiting for all {self.n} agents to be active"
        if self.phase == "warmup" and w.held_at is not None:
            return f"warm-up: {max(0.0, w.held_at + p.warmup - now):.0f} s left"
        if self.phase != "measuring" or w.measure_from is None:
            return self.phase
        el = now - w.measure_from
        if self.close_at is not None:
            return "window closed: waiting for the requests sent inside it to finish"
        if w.agents_reporting < self.n:
            return f"measuring: {w.agents_reporting}/{self.n} agents have reported"
        if p.rigour == "strict":
            total, _ = w.trajectory_counts(now)
            return (
                f"measuring: {el:.0f}/{p.min_steady_s:.0f} s, "
                f"{total}/{p.min_trajectories} trajectories"
            )
        text = f"measuring: {el:.0f} s (cap {p.fast_cap_s:.0f} s), look {self.looks}"
        if len(self.needed) > 1:
            text += f", {len(self.needed) - len(self._pending())}/{len(self.needed)} tiers settled"
        return text


def _one_shot_confidence(s: CriterionEval, t: CriterionEval) -> float:
    """Confidence in the point estimate's verdict from one look at the final data.

    pass needs both criteria, so it is only as sure as the weaker one; fail rests on the
    stronger failing criterion, with a Bonferroni factor for having picked it."""
    if s.leaning == "pass" and t.leaning == "pass":
        return max(0.0, 1.0 - max(s.p_pass, t.p_pass))
    p_fail = min(c.p_fail for c in (s, t) if c.leaning == "fail")
    return max(0.0, 1.0 - min(1.0, 2.0 * p_fail))

