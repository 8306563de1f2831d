"""The engine: one run, from pre-flight to final summary, on its own event loop.

Threads of a run: the engine loop (`run()`) drives the agents and their HTTP streams and nothing
else; the aggregator parses, computes statistics, writes the store, ticks the controller and
publishes snapshots; telemetry samplers each run in a thread of their own; the embedded simulator,
when no endpoint is given, runs on its own thread and loop. See docs/console.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from agentperf_tui.core.client.request import CHAT_PATH, chat_body
from agentperf_tui.core.client.sse import complete_reply, parse_stream
from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.engine.aggregator import Aggregator
from agentperf_tui.core.engine.config import ConfigError, RunConfig
from agentperf_tui.core.engine.failures import FailureLog
from agentperf_tui.core.engine.load import Load, LoadReport
from agentperf_tui.core.engine.load_choice import make_load
from agentperf_tui.core.engine.protocol import (
    Abort,
    Annotate,
    Command,
    Observer,
    Pause,
    RepeatLevel,
    Resume,
    SetConcurrency,
    SkipLevel,
    WorkerSpec,
)
from agentperf_tui.core.engine.run_context import RunContext
from agentperf_tui.core.event_loop import new_loop_runner
from agentperf_tui.core.preflight import Preflight, PreflightError, preflight
from agentperf_tui.core.search.controller import Decision, Finished, RunAt, SearchController
from agentperf_tui.core.summary.model import RunSummary, Status
from agentperf_tui.core.workload.calibrate import CalibrationError, calibrate
from agentperf_tui.core.workload.filler import Calibration
from agentperf_tui.core.workload.trajectory import load_set

T = TypeVar("T")


class EngineError(RuntimeError):
    """The run cannot start or continue; the message says what to fix."""


class AbortedBeforeStart(EngineError):
    """The run was aborted (a signal, the operator) while it was still checking the endpoint:
    nothing was measured, so nothing is stored."""


def _prompt_text(messages: list[dict[str, Any]]) -> str:
    return "\n\n".join(str(m.get("content") or "") for m in messages)


class RunEngine:
    def __init__(self, config: RunConfig, observers: list[Observer] | None = None) -> None:
        self.config = config
        self.observers: list[Observer] = list(observers or [])
        # The run clock's zero, on both clocks: request times count from _t0, the store keeps _t0_wall.
        self._t0 = time.perf_counter()
        self.t0_wall = time.time()
        self.clock: Callable[[], float] = lambda: time.perf_counter() - self._t0
        self.agg = Aggregator(
            clock=self.clock,
            observers=self.observers,
            window_s=config.window_s,
            snapshot_hz=config.snapshot_hz,
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ctx: RunContext | None = None
        self.load: Load | None = None
        self._report = LoadReport()
        """The latest report of the agents (their counts for the snapshot)."""
        self.run_id: str | None = None
        self.summary: RunSummary | None = None
        self._done: asyncio.Event | None = None
        self._finish_reason: Status = "finished"
        self._abort_reason: str | None = None
        self._early_stop: Callable[[], None] | None = None
        self._paused = False
        self._manual = False
        self._failures = FailureLog()
        self._store_failed = False
        self._handlers: dict[type, Callable[[Any], None]] = {
            SetConcurrency: self._set_concurrency,
            Pause: self._pause,
            Resume: self._resume,
            SkipLevel: self._skip_level,
            RepeatLevel: self._repeat_level,
            Annotate: self._annotate,
        }

    @property
    def controller(self) -> SearchController | None:
        return self.ctx.controller if self.ctx is not None and self.run_id is not None else None

    # ---- control: thread-safe, callable from any thread ----
    def submit(self, command: Command) -> None:
        """Carry out an operator command. Abort acts at once; the others run on the aggregator
        thread, which owns the controller."""
        if isinstance(command, Abort):
            self._abort(command.reason)
            return
        handler = self._handlers[type(command)]
        self.agg.submit(lambda: handler(command))

    def _on_loop(self, fn: Callable[[], None]) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn)

    def _set_concurrency(self, cmd: SetConcurrency) -> None:
        ctl = self.controller
        if ctl is None:
            return
        self._manual = True
        self.agg.event("info", f"N set by hand to {cmd.n}: search suspended; holding N={cmd.n} until stopped")
        self._apply(ctl.hold(cmd.n, self.clock()))

    def _pause(self, _: Pause) -> None:
        self._paused = True
        self.agg.event("info", "paused: agents finish their current request, then wait")
        if self.load is not None:
            self.load.pause()

    def _resume(self, _: Resume) -> None:
        self._paused = False
        self.agg.event("info", "resumed: the current level is measured again from now")
        if self.controller is not None:
            self.controller.repeat_level(self.clock())
        if self.load is not None:
            self.load.resume()

    def _skip_level(self, _: SkipLevel) -> None:
        if self.controller is not None:
            self.agg.event("info", "level skipped by the operator")
            self._apply(self.controller.skip_level(self.clock()))

    def _repeat_level(self, _: RepeatLevel) -> None:
        if self.controller is not None:
            self.agg.event("info", "level repeated by the operator")
            self._apply(self.controller.repeat_level(self.clock()))

    def _annotate(self, cmd: Annotate) -> None:
        if self.ctx is not None and self.run_id is not None:
            self.ctx.store.annotate(self.run_id, self.clock(), cmd.text)
        self.agg.event("annotation", cmd.text)

    def _abort(self, reason: str, *, status: Status = "aborted") -> None:
        def stop() -> None:
            if self._finish_reason == "finished":
                self._finish_reason = status
            self._abort_reason = self._abort_reason or reason
            if self._done is not None:
                self._done.set()

        self.agg.event("warn", reason)
        if self.loop is None:  # not started yet: the run stops as soon as it starts
            self._early_stop = stop
        self._on_loop(stop)

    def emergency_stop(self, reason: str) -> None:
        """Leave at once (a second signal): record the run as aborted with the levels it has, and
        give the store a moment to commit. Whatever was committed stays readable."""
        ctx, ctl, run_id = self.ctx, self.controller, self.run_id
        if ctx is None or ctl is None or run_id is None or ctx.preflight is None:
            return
        summary = RunSummary(
            run_id=run_id,
            status="aborted",
            status_reason=reason,
            final=False,
            started_wall=self.t0_wall,
            endpoint=ctx.base_url,
            model=ctx.preflight.model,
            simulated=ctx.preflight.simulated,
            simulated_by=ctx.preflight.simulated_by,
            mode=self.config.mode,
            rigour=self.config.rigour,
            duration_s=self.clock(),
            levels=tuple(ctl.records),
            store=ctx.store_path,
        )
        ctx.store.finish_run(run_id, status="aborted", summary=summary)
        with contextlib.suppress(Exception):
            ctx.store.flush(timeout=2.0)

    # ---- the run ----
    def run(self) -> RunSummary:
        """Run to the end on a fresh event loop in the calling thread; returns the summary."""
        runner = new_loop_runner()
        try:
            return runner.run(self._main())
        finally:
            runner.close()

    async def _main(self) -> RunSummary:
        cfg = self.config
        self.loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        if self._early_stop is not None:
            self._early_stop()
        # Read the workload first: a bad trajectory file is reported before any request is sent.
        trajectories = load_set(cfg.trajectories_path(), trees=True)
        self.agg.event("info", "starting: checking the endpoint")
        ctx = self.ctx = RunContext(cfg, self.clock, self.agg.event)
        try:
            limits = cfg.request_limits()
            client = StreamClient(
                ctx.base_url,
                api_key=ctx.api_key,
                max_connections=cfg.max_connections,
                read_timeout=cfg.request_timeout_s,
                backend=cfg.client,
                limits=limits,
            )
            self.agg.event(
                "info",
                f"a request fails as stalled after {limits.stall_first_s:g} s without output "
                f"({limits.stall_gap_s:g} s between outputs), as timed out after {limits.request_s:g} s",
            )
            try:
                return await self._measure(ctx, client, trajectories)
            finally:
                await client.aclose()
        finally:
            ctx.close()

    async def _unless_aborted(self, step: Coroutine[Any, Any, T]) -> T:
        """A start-up step (the endpoint check, the filler calibration) that an abort ends at once:
        the exact-length probe against a slow server can take minutes."""
        done = self._done
        assert done is not None
        task = asyncio.ensure_future(step)
        stop = asyncio.ensure_future(done.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            why = self._abort_reason or "aborted"
            raise AbortedBeforeStart(f"{why} while checking the endpoint: nothing was measured or stored")
        return task.result()

    async def _measure(self, ctx: RunContext, client: StreamClient, trajectories: list[Any]) -> RunSummary:
        cfg = self.config
        try:
            embedded = ctx.sim is not None
            pf = await self._unless_aborted(
                preflight(client, cfg.model, exact_length=cfg.exact_length, embedded=embedded)
            )
        except PreflightError as e:
            if isinstance(e, ConfigError):
                raise  # the run's settings, not the server: a configuration error
            raise EngineError(str(e)) from e
        self._report_preflight(pf)
        calibration: Calibration | None = None
        if any(t.kind == "tokens" for t in trajectories):
            calibration = await self._unless_aborted(self._calibrate(client, pf.model))
        self.run_id = ctx.start_run(pf, trajectories=trajectories, started_wall=self.t0_wall)
        controller = ctx.controller
        load = self.load = make_load(cfg, client, self.clock, self.agg.event)
        ctx.load = load
        await load.start(
            WorkerSpec(
                index=0,
                count=load.workers,
                base_url=ctx.base_url,
                api_key=ctx.api_key,
                api=cfg.api,
                model=pf.model,
                exact=cfg.exact_length,
                exact_fields=pf.exact_fields,
                trajectories=tuple(trajectories),
                calibration=calibration,
                seed=cfg.seed,
                tool_delay=cfg.tool_delay,
                think_time=cfg.think_time,
                limits=cfg.request_limits(),
                backend=cfg.client,
                max_connections=cfg.max_connections,
                clock_zero=self._t0,
            )
        )
        if load.workers > 1:
            where = "Ray actors" if load.kind == "ray" else "processes on this machine"
            self.agg.event("info", f"load: {load.workers} workers ({where})")
        self.agg.poll = load.poll
        self.agg.on_report = self._on_report
        self.agg.build_extra = self._extra
        self.agg.level_index = self._level_index
        self.agg.speed_floor = ctx.tier.speed_tok_s if ctx.tier is not None else None
        ctx.start_telemetry()
        # The controller starts before the aggregator thread, which may at once carry out an
        # operator command queued during start-up (N set by hand).
        first = controller.start(self.clock())
        load.set_target(first)
        self.agg.event("level", f"level 1: N={first}")
        self.agg.start()
        done = self._done
        assert done is not None
        try:
            if cfg.duration_s is not None and cfg.mode == "fixed":
                try:
                    await asyncio.wait_for(done.wait(), timeout=cfg.duration_s)
                except TimeoutError:
                    self._finish_reason = "finished"
            else:
                await done.wait()
        finally:
            await load.stop()
            self.agg.stop()
            ctx.stop_telemetry()
        if self.agg.error is not None:
            raise EngineError(f"aggregator failed: {self.agg.error}") from self.agg.error
        if self.agg.columns.open_at_end:
            self.agg.event(
                "info",
                f"{self.agg.columns.open_at_end} requests were still open when the run stopped: stored "
                "as open at the end, counted apart from finished and failed ones",
            )
        # The aggregator has stopped: the controller is this thread's now.
        result = controller.end_run(self.clock(), conclude=self._finish_reason == "finished")
        summary = ctx.finish(
            self.agg.columns,
            controller,
            result,
            status=self._finish_reason,
            reason=self._abort_reason,
            duration_s=self.clock(),
        )
        self.summary = summary
        self.agg.publish(self.clock())
        for o in self.observers:
            o.on_finish(summary)
        return summary

    def _report_preflight(self, pf: Preflight) -> None:
        label = "" if not pf.simulated else f" (SIMULATED: {pf.simulated_by})"
        self.agg.event("info", f"endpoint ok: model {pf.model} at {pf.base_url}{label}")
        if pf.probe is None:
            self.agg.event("warn", pf.comparability)
        else:
            self.agg.event(
                "info" if pf.comparable else "warn",
                f"exact output length: {pf.comparability}"
                + ("" if pf.comparable else " -- run marked NOT COMPARABLE"),
            )

    async def _calibrate(self, client: StreamClient, model: str) -> Calibration:
        async def count(messages: list[dict[str, Any]]) -> int:
            raw = await client.stream(
                CHAT_PATH, chat_body(model, messages, max_tokens=1, exact=False), self.clock(), self.clock
            )
            p = parse_stream(raw)
            # one token asked for: a reply that is only end-of-sequence still carries usage
            if not complete_reply(p) or p.prompt_tokens is None:
                raise EngineError(
                    "filler calibration: the server returned no usage.prompt_tokens "
                    f"({p.error or 'no usage'}); token-only trajectories need a server that reports usage"
                )
            return p.prompt_tokens

        try:
            cal = await calibrate(count, seed=self.config.seed)
        except CalibrationError as e:
            raise EngineError(f"filler calibration against the server failed: {e}") from e
        self.agg.event(
            "info",
            f"filler calibrated on {cal.probes} probes: {cal.tokens_per_word:.3f} tokens/word, "
            f"largest error {cal.fit_error:.2%}",
        )
        return cal

    # ---- aggregator-thread hooks ----
    def _on_report(self, report: LoadReport) -> None:
        ctx, ctl = self.ctx, self.controller
        self._report = report
        if ctx is None or ctl is None or self.run_id is None:
            return
        results = report.results
        if results:
            ctx.store.add_requests(self.run_id, results, self._level_index())
            for message in self._failures.new_kinds(results):
                self.agg.event("warn", message)
            lost = ctx.comparability.check(self.agg.columns)
            if lost is not None:
                self.agg.event("warn", f"run marked NOT COMPARABLE: {lost}")
        self._watch_store(ctx)
        ctx.drain_telemetry(self.run_id)
        if self._paused:
            return
        decision = ctl.tick(
            self.clock(),
            results,
            [(d.agent_id, d.t_start, d.t_end) for d in report.done],
            report.active,
            ctx.window_energy,
            report.open_requests,
            report.counts.leaving,
        )
        ctx.save_levels(ctl, self.agg.columns)
        if decision is not None:
            self._apply(decision)

    def _watch_store(self, ctx: RunContext) -> None:
        """A store that cannot be written ends the run (status failed), said once."""
        st = ctx.store.status()
        if st.failing and not self._store_failed:
            self._store_failed = True
            why = f"run store {ctx.store_path}: writes failing ({st.first_error})"
            self.agg.event("error", f"{why}: stopping the run; the summary is still printed")
            self._abort(why, status="failed")

    def _level_index(self) -> int:
        """Index (in the run) of the level now being measured: requests are stored under it."""
        ctl = self.controller
        return len(ctl.records) if ctl is not None else -1

    def _apply(self, decision: Decision | None) -> None:
        if isinstance(decision, RunAt):
            n = decision.n
            self.agg.event("level", f"level {self._level_index() + 1}: N={n}")
            if self.load is not None:
                self.load.set_target(n)
        elif isinstance(decision, Finished):
            res = decision.result
            if self._manual:
                lv = res.levels[-1] if res.levels else None
                verdict = "pass" if lv is not None and lv.passed else "fail"
                self.agg.event("level", f"hand-set level settled: {verdict}; still holding N until stopped")
            elif self.config.mode == "fixed":
                self.agg.event("info", f"level settled: N={res.primary.n_star or self.config.concurrency}")
                if self.config.duration_s is None:
                    self._on_loop(lambda: self._done.set() if self._done else None)
            else:
                found = [f"N*={r.n_star}" + (f" @ {r.tier_name}" if len(res.results) > 1 else "")
                         for r in res.results]
                self.agg.event("info", f"search finished: {', '.join(found)}")
                self._on_loop(lambda: self._done.set() if self._done else None)

    def _extra(self) -> dict[str, Any]:
        ctx, load, ctl = self.ctx, self.load, self.controller
        counts = self._report.counts
        return {
            "run_id": self.run_id or "",
            "simulated_endpoint": bool(ctx and ctx.simulated),
            "target_n": load.target if load else 0,
            "agents": counts.agents,
            "requests_waiting": counts.waiting,
            "requests_streaming": counts.streaming,
            "agents_in_tool": counts.in_tool,
            "requests_in_flight": counts.in_flight,
            "level": ctl.level_view() if ctl else None,
            "search": ctl.view() if ctl else None,
            "power": ctx.power_view() if ctx else None,
            "server": ctx.server_view() if ctx else None,
            "paused": self._paused,
            "finished": self.summary is not None,
            "not_comparable": "; ".join(ctx.comparability.reasons) if ctx and ctx.preflight else None,
        }

