"""A fake engine for console tests: deterministic snapshots of a concurrency search on a virtual
clock, delivered through the same Observer calls the real engine makes (from its own thread when
started, or synchronously when a test drives it)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.protocol import Abort, Command, Observer, Pause, Resume
from agentperf_tui.core.summary.level import LevelRecord, TierVerdict
from agentperf_tui.core.summary.model import RequestCounts, RunSummary, Status, WholeRunFigures
from agentperf_tui.core.summary.normalise import normalise
from agentperf_tui.core.summary.result import TierResult
from agentperf_tui.core.telemetry.base import SourceStatus
from agentperf_tui.core.tiers import SloTier
from agentperf_tui.core.views import (
    Event,
    Percentiles,
    PowerView,
    SearchView,
    ServerView,
    Snapshot,
    TierBracketView,
)

FLOOR, LIMIT = 100.0, 5.0
# (N, seconds at the level, verdict): ramp 8, 16, 32, 64 (fail), then bisect 48 (pass), 56 (fail).
PLAN: tuple[tuple[int, float, str], ...] = (
    (8, 20.0, "pass"),
    (16, 20.0, "pass"),
    (32, 25.0, "pass"),
    (64, 25.0, "fail"),
    (48, 30.0, "pass"),
    (56, 30.0, "fail"),
)
DT = 0.5
GPUS = ("0", "1", "2", "3")


def _load(n: int) -> float:
    """0..1+ how hard the simulated server is working at N agents (fails past ~52)."""
    return n / 52.0


def level_metrics(n: int, progress: float) -> tuple[float, float, float]:
    """(P25 speed tok/s, p95 TTFT s, p50 TTFT s) at N agents, settling as the level progresses."""
    load = _load(n)
    speed = 180.0 * (1.0 - 0.55 * load**2) + 4 * math.sin(progress * 6)
    ttft95 = 0.6 + 4.2 * load**3 + 0.2 * math.sin(progress * 5)
    return speed, ttft95, ttft95 * 0.35


@dataclass
class SearchScript:
    """The whole fake run as a list of snapshots, computed up front (no wall clock involved)."""

    run_id: str = "20260612-0214-a1b2"
    simulated: bool = True
    snapshots: list[Snapshot] = field(default_factory=list)
    events: list[tuple[int, Event]] = field(default_factory=list)
    summary: RunSummary = field(default_factory=RunSummary)

    def __post_init__(self) -> None:
        t = 0.0
        done_levels: list[LevelRecord] = []
        best: int | None = None
        low_fail: int | None = None
        energy = 0.0
        ok = failed = tokens = 0
        for index, (n, secs, verdict) in enumerate(PLAN):
            start = t
            self.events.append((len(self.snapshots), Event(t, "level", f"level N={n}: agents joining")))
            steps = int(secs / DT)
            for k in range(steps):
                t += DT
                prog = (k + 1) / steps
                speed, t95, t50 = level_metrics(n, prog)
                phase = "transition" if prog < 0.1 else "warmup" if prog < 0.3 else "measuring"
                joined = min(n, int(n * min(1.0, prog / 0.1))) if prog < 0.1 else n
                waiting = max(1, int(joined * (0.12 + 0.3 * _load(n) ** 2)))
                in_tool = int(joined * 0.3)
                streaming = max(0, joined - waiting - in_tool)
                rate = joined * 0.4
                ok += int(rate * DT)
                failed += 1 if verdict == "fail" and k % 9 == 0 else 0
                tokens += int(rate * DT * 350)
                per_gpu = {g: 380.0 + 9.0 * n + 15 * i + 10 * math.sin(t / 3 + i) for i, g in enumerate(GPUS)}
                total = sum(per_gpu.values())
                energy += total * DT
                hist_edges = tuple(float(e) for e in range(0, 321, 20))
                centre = speed / 0.8
                hist = tuple(
                    int(60 * math.exp(-((((e + 10) - centre) / 35.0) ** 2))) for e in hist_edges[:-1]
                )
                decided = prog >= 0.95
                level = LevelRecord(
                    index=index,
                    n=n,
                    role="ramp" if index < 4 else "bisect",
                    phase="settled" if decided else phase,
                    outcome="measured" if decided else None,
                    passed=decided and verdict == "pass",
                    started_at=start,
                    measure_from=start + secs * 0.3,
                    ended_at=t if decided else None,
                    requests=int(rate * (t - start)),
                    failed=failed,
                    speed_p25=speed,
                    ttft_p95=t95,
                    speed_verdict="pass" if speed >= FLOOR else "fail",
                    ttft_verdict="pass" if t95 <= LIMIT else "fail",
                    verdict=verdict if decided else "undecided",
                    confidence=min(0.99, 0.5 + 0.5 * prog),
                    reason=("P95 TTFT over the limit" if verdict == "fail" else "both criteria met")
                    if decided
                    else "",
                    mean_power_w=total,
                    energy_j=energy,
                    trajectories_completed=int(n * prog * 2),
                )
                if decided and (not done_levels or done_levels[-1].n != n):
                    done_levels.append(level)
                    if verdict == "pass":
                        best = max(best or 0, n)
                    else:
                        low_fail = n if low_fail is None else min(low_fail, n)
                levels = (*[lv for lv in done_levels if lv.n != n], level)
                last = n == PLAN[-1][0] and decided
                search = SearchView(
                    mode="search",
                    rigour="fast",
                    tier="deepseek-v4-pro@rev1/100-5",
                    speed_floor=FLOOR,
                    ttft_limit=LIMIT,
                    levels=levels,
                    best_pass=best,
                    lowest_fail=low_fail,
                    done=last,
                    result_n=best if last else None,
                )
                self.snapshots.append(
                    Snapshot(
                        t=t,
                        run_id=self.run_id,
                        simulated_endpoint=self.simulated,
                        target_n=n,
                        agents=joined,
                        requests_waiting=waiting,
                        requests_streaming=streaming,
                        agents_in_tool=in_tool,
                        requests_ok=ok,
                        requests_failed=failed,
                        output_tokens=tokens,
                        window_s=30.0,
                        ttft=Percentiles(t50, t95, t95 * 1.3),
                        speed_p25=speed,
                        speed_p50=speed * 1.25,
                        speed_hist=hist,
                        speed_hist_edges=hist_edges,
                        throughput_tok_s=rate * 350,
                        client_lag_p99=0.002,
                        client_lag_max=0.011,
                        level=level,
                        search=search,
                        power=PowerView(
                            sources=(SourceStatus("simulated", True, simulated=True, gpus=GPUS),),
                            per_gpu_w=per_gpu,
                            total_w=total,
                            energy_j=energy,
                            simulated=True,
                        ),
                        server=ServerView(
                            source="simulator /metrics",
                            values={
                                "running": float(streaming + waiting),
                                "waiting": float(max(0, waiting - 4)),
                                "kv_cache_usage": min(0.97, 0.2 + 0.75 * _load(n)),
                                "prefix_hit_rate": 0.82,
                                "gen_tok_s": rate * 350,
                            },
                        ),
                    )
                )
            self.events.append(
                (
                    len(self.snapshots) - 1,
                    Event(t, "level", f"level N={n}: {verdict} ({'TTFT' if verdict == 'fail' else 'ok'})"),
                )
            )
        final = done_levels
        power_at = next(lv.mean_power_w for lv in final if lv.n == best)
        assert power_at is not None and best is not None
        self.summary = script_summary(self.run_id, self.simulated, done_levels, best, low_fail, t, ok, failed)


TIER = SloTier(FLOOR, LIMIT, family="deepseek-v4-pro", version="rev1")


def script_summary(
    run_id: str,
    simulated: bool,
    levels: list[LevelRecord],
    n_star: int,
    first_fail: int | None,
    duration_s: float,
    ok: int,
    failed: int,
) -> RunSummary:
    """The summary the engine would build for this search: the real model, and the figures from
    the one normalisation at N*'s level."""
    star = [lv for lv in levels if lv.n == n_star and lv.passed][-1]
    norm = normalise(n_star, len(GPUS), star.mean_power_w, power_simulated=True)
    result = TierResult(
        tier=TIER,
        n_star=n_star,
        level_n=n_star,
        level_index=star.index,
        gpu_count=len(GPUS),
        agents_per_gpu=norm.agents_per_gpu,
        agents_per_mw=norm.agents_per_mw,
        power_w=norm.power_w,
        power_basis=norm.power_basis,
        power_note=norm.note,
        first_fail_n=first_fail,
        failing_criterion="ttft",
        confidence=0.97,
        converged=True,
    )
    return RunSummary(
        run_id=run_id,
        status="finished",
        endpoint="http://127.0.0.1:40123",
        model="sim-deepseek-v4-pro",
        simulated=simulated,
        mode="search",
        rigour="fast",
        gpu_count=len(GPUS),
        duration_s=duration_s,
        requests=RequestCounts(ok=ok, failed=failed),
        whole_run=WholeRunFigures.model_validate({"client_lag_s": {"p99": 0.002, "max": 0.011}}),
        levels=tuple(levels),
        results=(result,),
        store="/tmp/agentperf-test/runs.sqlite3",
    )


class FakeEngine:
    """EngineControl over a SearchScript. `start()` plays it from a thread (`step_s` apart, 0 for
    as fast as possible); `play(k)` delivers the next k snapshots synchronously from the caller."""

    def __init__(
        self,
        config: RunConfig,
        observers: list[Observer],
        *,
        step_s: float = 0.0,
        script: SearchScript | None = None,
        autoplay: bool = True,
    ) -> None:
        self.config = config
        self.observers = observers
        self.script = script or SearchScript(simulated=config.simulated)
        self.step_s = step_s
        self.autoplay = autoplay
        self.started = False
        self.commands: list[Command] = []
        self.pos = 0
        self._paused = False
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None
        self.finished = False

    @property
    def run_id(self) -> str | None:
        return self.script.run_id

    @property
    def store_path(self) -> str:
        return "/tmp/agentperf-test/runs.sqlite3"

    def start(self) -> None:
        self.started = True
        if self.autoplay:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._abort.is_set() and self.pos < len(self.script.snapshots):
            self.play(1)
            if self.step_s:
                self._abort.wait(self.step_s)
        self.finish("aborted" if self._abort.is_set() else "finished")

    def play(self, k: int) -> None:
        for _ in range(k):
            if self.pos >= len(self.script.snapshots):
                return
            snap = self.script.snapshots[self.pos]
            if self._paused:
                snap = replace(snap, paused=True)
            for idx, ev in self.script.events:
                if idx == self.pos:
                    for o in self.observers:
                        o.on_event(ev)
            for o in self.observers:
                o.on_snapshot(snap)
            self.pos += 1

    def finish(self, status: Status = "finished") -> None:
        if self.finished:
            return
        self.finished = True
        summary = self.script.summary.model_copy(update={"status": status})
        for o in self.observers:
            o.on_finish(summary)

    # ---- controls ----
    def submit(self, command: Command) -> None:
        self.commands.append(command)
        if isinstance(command, Pause):
            self._paused = True
        elif isinstance(command, Resume):
            self._paused = False
        elif isinstance(command, Abort):
            self._abort.set()
            if not self.autoplay:
                self.finish("aborted")

    def terminate(self) -> None:
        self.terminated = True

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return True


FAMILY = tuple(
    SloTier(s, t, family="deepseek-v4-pro", version="2026-06") for s, t in ((30, 10), (100, 5), (300, 3))
)
FAMILY_SPEC = "deepseek-v4-pro@2026-06"


def _verdicts(lv: LevelRecord, tiers: tuple[SloTier, ...]) -> tuple[TierVerdict, ...]:
    """Each tier's verdict on a level of the script, judged on the level's own P25 and p95: settled
    once the level is decided, undecided (estimates only) while it is open."""
    out = []
    for t in tiers:
        speed_ok, ttft_ok = lv.speed_p25 >= t.speed_tok_s, lv.ttft_p95 <= t.ttft_s
        ok = speed_ok and ttft_ok
        failing = None if ok else "speed" if ttft_ok else "ttft" if speed_ok else "speed+ttft"
        decided = lv.decided
        out.append(
            TierVerdict(
                tier=t.name, speed_tok_s=t.speed_tok_s, ttft_s=t.ttft_s, used=True, role=lv.role,
                speed_verdict=("pass" if speed_ok else "fail") if decided else "undecided",
                ttft_verdict=("pass" if ttft_ok else "fail") if decided else "undecided",
                verdict=("pass" if ok else "fail") if decided else "undecided",
                passed=decided and ok, settled=decided, confidence=lv.confidence,
                failing_criterion=failing, speed_p25=lv.speed_p25, ttft_p95=lv.ttft_p95,
                requests=lv.requests, looks=3,
            )
        )  # fmt: skip
    return tuple(out)


def _tiered(lv: LevelRecord, tiers: tuple[SloTier, ...]) -> LevelRecord:
    vs = _verdicts(lv, tiers)
    first = vs[0]
    return lv.model_copy(
        update={
            "tiers": vs, "verdict": first.verdict, "passed": first.passed,
            "speed_verdict": first.speed_verdict, "ttft_verdict": first.ttft_verdict,
            "failing_criterion": first.failing_criterion,
        }
    )  # fmt: skip


def _brackets(
    levels: tuple[LevelRecord, ...], tiers: tuple[SloTier, ...], done: bool
) -> list[TierBracketView]:
    out = []
    for k, t in enumerate(tiers):
        decided = [(lv.n, lv.tiers[k].passed) for lv in levels if lv.decided]
        low_fail = min((n for n, ok in decided if not ok), default=None)
        best = max((n for n, ok in decided if ok and (low_fail is None or n < low_fail)), default=None)
        out.append(
            TierBracketView(
                tier=t.name, speed_floor=t.speed_tok_s, ttft_limit=t.ttft_s, best_pass=best,
                lowest_fail=low_fail, converged=done, done=done, result_n=(best or 0) if done else None,
            )
        )  # fmt: skip
    return out


def family_script(tiers: tuple[SloTier, ...] = FAMILY) -> SearchScript:
    """The scripted search judged against several tiers at once: every level carries each tier's
    verdict, the search view each tier's bracket, and the summary one result per tier."""
    script = SearchScript()
    snaps = []
    for snap in script.snapshots:
        assert snap.search is not None and snap.level is not None
        levels = tuple(_tiered(lv, tiers) for lv in snap.search.levels)
        brackets = _brackets(levels, tiers, snap.search.done)
        first = brackets[0]
        search = replace(
            snap.search, tier=first.tier, speed_floor=first.speed_floor, ttft_limit=first.ttft_limit,
            levels=levels, best_pass=first.best_pass, lowest_fail=first.lowest_fail,
            result_n=first.result_n, tiers=tuple(brackets),
        )  # fmt: skip
        snaps.append(replace(snap, level=levels[-1], search=search))
    script.snapshots = snaps
    last = snaps[-1].search
    assert last is not None
    levels = [lv for lv in last.levels if lv.decided]
    results = []
    for k, (t, b) in enumerate(zip(tiers, _brackets(tuple(levels), tiers, True), strict=True)):
        star = b.best_pass or 0
        at = [lv for lv in levels if lv.n == star and lv.tiers[k].passed]
        norm = normalise(star, len(GPUS), at[-1].mean_power_w if at else None, power_simulated=True)
        fails = [lv for lv in levels if not lv.tiers[k].passed]
        first_fail = min(fails, key=lambda lv: lv.n) if fails else None
        results.append(
            TierResult(
                tier=t, n_star=star, level_n=star if at else None, level_index=at[-1].index if at else None,
                gpu_count=len(GPUS), agents_per_gpu=norm.agents_per_gpu, agents_per_mw=norm.agents_per_mw,
                power_w=norm.power_w, power_basis=norm.power_basis, power_note=norm.note,
                first_fail_n=first_fail.n if first_fail else None,
                failing_criterion=first_fail.tiers[k].failing_criterion if first_fail else None,
                confidence=0.97, converged=True, capped=first_fail is None,
            )
        )  # fmt: skip
    script.summary = script.summary.model_copy(update={"levels": tuple(levels), "results": tuple(results)})
    return script
