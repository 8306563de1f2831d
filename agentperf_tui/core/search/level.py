"""One concurrency level's lifecycle: transition -> warm-up -> measuring -> settled.

- transition: N was changed (agents joining or retiring) and not all N agents are active yet.
- warm-up: all N agents have been active since `held_at`; requests do not count yet.
- measuring: requests sent from `measure_from = held_at + warm-up` count.
  strict: the window closes once it has lasted `min_steady_s` and holds the required completed
  trajectories (in total and per agent); the level ends when every request sent before the close
  has finished. fast: the verdict is re-examined each time the window's complete prefix has
  grown by `look_growth`; the level ends as soon as the order-statistic confidence bounds settle
  it, or at the time cap.

Fast-mode error control: look k uses alpha_k = alpha / (k (k + 1)), split between the two
criteria; these sum to alpha over all looks, so the chance that an early-stopped level carries
the wrong verdict is at most alpha (= 1 - confidence), with requests taken as independent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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
from agentperf_tui.core.search.window import LevelWindow, WindowData
from agentperf_tui.core.summary.level import LevelRecord, Outcome, Phase, Role, Verdict
from agentperf_tui.core.tiers import fmt_num


def look_alpha(alpha: float, k: int) -> float:
    """Error budget of the k-th look (1-based) for one criterion."""
    return alpha / (k * (k + 1)) / 2.0


def _fmt(x: float, unit: str) -> str:
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3g} {unit}"


class Level:
    def __init__(self, index: int, n: int, role: Role, started_at: float, plan: SearchPlan) -> None:
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
    ) -> LevelRecord | None:
        """Advance the level; returns its record when it has just ended."""
        if self.done:
            return self._record
        dt, self._last_now, self._now = now - self._last_now, now, now
        w = self.win
        if self.phase == "transition" and active_agents == self.n:
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
            end = self._best_end(now)
            self._finish(now, end, None, f"level timeout after {self.plan.timeout:.0f} s")
        return self._record

    def _best_end(self, now: float) -> float | None:
        if self.measure_from is None:
            return None
        c = self.win.complete_through()
        if c is None:
            c = self.win.oldest_report()
        return max(self.measure_from, c) if c is not None else self.measure_from

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
            c = w.complete_through()
            if c is not None and c >= self.close_at:
                self._finish(now, self.close_at, None, "strict: " + self._rules_note)

    def _fast_step(self, now: float) -> None:
        p, w = self.plan, self.win
        assert w.measure_from is not None
        c = w.complete_through()
        capped = now - w.measure_from >= p.fast_cap_s
        if c is not None and c > w.measure_from:
            n_req = w.count_before(c)
            due = (
                n_req >= max(p.min_requests, self._next_look_n)
                and c - w.measure_from >= p.fast_min_s
                and w.trajectory_counts(c)[0] >= p.fast_min_trajectories_per_agent * self.n
            )
            if due or (capped and n_req > 0):
                d = w.data(c)
                self.looks += 1
                a = look_alpha(p.alpha, self.looks)
                if p.tier is not None:
                    s, t = self._judge(d, a)
                    if combined_verdict(s.settled, t.settled) != "undecided":
                        self._finish(now, c, (s, t), f"settled after {d.n} requests (look {self.looks})")
                        return
                self._next_look_n = max(d.n + 1, math.ceil(d.n * p.look_growth))
        if capped:
            end = self._best_end(now)
            self._finish(now, end, None, f"time cap {p.fast_cap_s:.0f} s reached")

    def _judge(self, d: WindowData, alpha: float) -> tuple[CriterionEval, CriterionEval]:
        tier = self.plan.tier
        assert tier is not None
        return judge_window(
            d.speeds, d.ttfts, d.t, d.speed_raw, d.ttft_raw, tier.speed_tok_s, tier.ttft_s, alpha,
            self.plan.block_s,
        )

    # ---- endings ----------------------------------------------------------------------------
    def _finish(
        self,
        now: float,
        end: float | None,
        settled_evals: tuple[CriterionEval, CriterionEval] | None,
        why: str,
        outcome: Outcome = "measured",
    ) -> LevelRecord:
        p = self.plan
        mf = self.measure_from
        data: WindowData | None = self.win.data(end) if (end is not None and mf is not None) else None
        n_req = data.n if data is not None else 0
        failed = data.failed if data is not None else 0
        total, per_agent = self.win.trajectory_counts(end if end is not None else -math.inf)
        agents_ok = sum(1 for c in per_agent if c >= p.min_trajectories_per_agent)
        tier = p.tier
        speed_v: Verdict = "undecided"
        ttft_v: Verdict = "undecided"
        verdict: Verdict = "undecided"
        passed, settled, confidence, failing = False, False, None, None
        sp25, tp95 = math.nan, math.nan
        sb: tuple[float, float] = (math.nan, math.nan)
        tb: tuple[float, float] = (math.nan, math.nan)
        reason = why
        if data is not None and n_req > 0 and tier is not None:
            if settled_evals is not None:
                s, t = settled_evals
                speed_v, ttft_v = s.settled, t.settled
                settled = True
                confidence = p.confidence
            else:
                a = p.alpha / 2.0 if p.rigour == "strict" else look_alpha(p.alpha, max(1, self.looks))
                s, t = self._judge(data, a)
                if p.rigour == "strict" or outcome in ("skipped", "ended"):
                    speed_v, ttft_v = s.leaning, t.leaning
                else:
                    speed_v, ttft_v = s.settled, t.settled
                    settled = combined_verdict(speed_v, ttft_v) != "undecided"
                confidence = _one_shot_confidence(s, t)
            verdict = combined_verdict(speed_v, ttft_v)
            leaning = combined_verdict(s.leaning, t.leaning)
            passed = verdict == "pass" or (
                verdict == "undecided" and p.undecided_as == "estimate" and leaning == "pass"
            )
            failing = None if passed else failing_criterion(s, t)
            sp25, tp95, sb, tb = s.estimate, t.estimate, s.bounds, t.bounds
            reason += (
                f"; P25 speed {_fmt(s.estimate, 'tok/s')} vs >= {fmt_num(tier.speed_tok_s)}"
                f", P95 TTFT {_fmt(t.estimate, 's')} vs <= {fmt_num(tier.ttft_s)}"
            )
            if verdict == "undecided":
                reason += f"; undecided, counted as {'pass' if passed else 'fail'}"
        elif data is not None and n_req > 0:
            s, t = judge_speed(data.speeds, 0.0, p.alpha / 2), judge_ttft(data.ttfts, math.inf, p.alpha / 2)
            sp25, tp95, sb, tb = s.estimate, t.estimate, s.bounds, t.bounds
            reason += "; no SLO tier: measured only"
        else:
            reason += "; no request counted" + ("" if tier is None else ", counted as a fail")
        if outcome == "discarded":
            passed = False
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
            failed=failed,
            speed_p25=sp25,
            speed_p25_bounds=sb,
            ttft_p95=tp95,
            ttft_p95_bounds=tb,
            speed_verdict=speed_v,
            ttft_verdict=ttft_v,
            verdict=verdict,
            passed=passed,
            settled=settled,
            confidence=confidence,
            failing_criterion=failing,
            reason=reason,
            trajectories_completed=total,
            agents_with_min_trajectories=agents_ok,
            meets_rules=self.rules_met if p.rigour == "strict" else None,
            looks=self.looks,
            unsteady_s=self.unsteady_s,
        )
        self.phase = "settled"
        return self._record

    def skip(self, now: float) -> LevelRecord:
        """The operator ends the level now: decided by the point estimate of what has finished."""
        if self._record is not None:
            return self._record
        end = self._best_end(now)
        return self._finish(now, end, None, "ended early by the operator", outcome="skipped")

    def end_of_run(self, now: float) -> LevelRecord:
        """The run ends with this level open: decided by the point estimate of what has finished."""
        if self._record is not None:
            return self._record
        end = self._best_end(now)
        return self._finish(now, end, None, "the run ended before the level settled", outcome="ended")

    def discard(self, now: float) -> LevelRecord:
        """The operator restarts the level: this attempt is kept on record but does not count."""
        if self._record is not None:
            return self._record
        end = self._best_end(now)
        return self._finish(now, end, None, "restarted by the operator; not counted", outcome="discarded")

    # ---- live view --------------------------------------------------------------------------
    def view(self) -> LevelRecord:
        if self._record is not None:
            return self._record
        p, w, tier = self.plan, self.win, self.plan.tier
        sp25 = tp95 = math.nan
        sb: tuple[float, float] = (math.nan, math.nan)
        tb: tuple[float, float] = (math.nan, math.nan)
        sv: Verdict = "undecided"
        tv: Verdict = "undecided"
        n_req = failed = 0
        c = w.complete_through()
        if self.phase == "measuring" and c is not None and w.measure_from is not None and c > w.measure_from:
            d = w.data(c)
            n_req, failed = d.n, d.failed
            if d.n:
                a = look_alpha(p.alpha, self.looks + 1) if p.rigour == "fast" else p.alpha / 2
                if tier is not None:
                    s, t = self._judge(d, a)
                else:
                    s, t = judge_speed(d.speeds, 0.0, a), judge_ttft(d.ttfts, math.inf, a)
                sp25, tp95, sb, tb = s.estimate, t.estimate, s.bounds, t.bounds
                if tier is not None and p.rigour == "fast":
                    sv, tv = s.settled, t.settled
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
            speed_verdict=sv,
            ttft_verdict=tv,
            verdict=combined_verdict(sv, tv),
            reason=self._status(),
            trajectories_completed=total if w.measure_from is not None else 0,
        )

    def _status(self) -> str:
        p, w, now = self.plan, self.win, self._now
        if self.phase == "transition":
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
        return f"measuring: {el:.0f} s (cap {p.fast_cap_s:.0f} s), look {self.looks}"


def _one_shot_confidence(s: CriterionEval, t: CriterionEval) -> float:
    """Confidence in the point estimate's verdict from one look at the final data.

    pass needs both criteria, so it is only as sure as the weaker one; fail rests on the
    stronger failing criterion, with a Bonferroni factor for having picked it."""
    if s.leaning == "pass" and t.leaning == "pass":
        return max(0.0, 1.0 - max(s.p_pass, t.p_pass))
    p_fail = min(c.p_fail for c in (s, t) if c.leaning == "fail")
    return max(0.0, 1.0 - min(1.0, 2.0 * p_fail))
