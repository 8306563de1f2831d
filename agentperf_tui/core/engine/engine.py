"""The engine: one run, from endpoint check to final summary, on its own event loop.

Threads of a run:
- the engine loop (this module's `run()`): the agents and their HTTP streams, nothing else;
- the aggregator: parsing, statistics, the concurrency controller, the store, snapshots;
- telemetry samplers (GPU power, server metrics), each in its own thread;
- the embedded simulator, when no endpoint is given, on its own thread and loop.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Callable
from typing import Any

from agentperf_tui.core.client.errors import EndpointError
from agentperf_tui.core.client.probe import check_endpoint, list_models, probe_exact_length
from agentperf_tui.core.client.request import (
    CHAT_PATH,
    COMPLETIONS_PATH,
    EXACT_FIELDS,
    chat_body,
    completion_body,
)
from agentperf_tui.core.client.sse import complete_reply, parse_stream
from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.engine.aggregator import Aggregator
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.conversation import TurnRequest
from agentperf_tui.core.engine.failures import FailureLog
from agentperf_tui.core.engine.fleet import Exchange, Fleet, TrajectoryDone
from agentperf_tui.core.engine.run_context import RunContext
from agentperf_tui.core.observer import Observer
from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.controller import Finished, SearchController, SetConcurrency
from agentperf_tui.core.workload.calibrate import CalibrationError, calibrate
from agentperf_tui.core.workload.filler import Calibration
from agentperf_tui.core.workload.trajectory import load_set


class EngineError(RuntimeError):
    """The run cannot start or continue; the message says what to fix."""


def _prompt_text(messages: list[dict[str, Any]]) -> str:
    return "\n\n".join(str(m.get("content") or "") for m in messages)


class Engine:
    def __init__(self, config: RunConfig, observers: list[Observer] | None = None) -> None:
        self.config = config
        self.observers: list[Observer] = list(observers or [])
        self._t0 = time.perf_counter()
        self.clock: Callable[[], float] = lambda: time.perf_counter() - self._t0
        self.inbox: queue.SimpleQueue[Exchange | TrajectoryDone] = queue.SimpleQueue()
        self.agg = Aggregator(
            inbox=self.inbox,
            clock=self.clock,
            observers=self.observers,
            window_s=config.window_s,
            snapshot_hz=config.snapshot_hz,
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ctx: RunContext | None = None
        self.fleet: Fleet | None = None
        self.controller: SearchController | None = None
        self.run_id: str | None = None
        self.summary: dict[str, Any] | None = None
        self._done: asyncio.Event | None = None
        self._finish_reason = "finished"
        self._paused = False
        self._manual = False
        self._failures = FailureLog()

    # ---- control: thread-safe, callable from any thread ----
    def _on_loop(self, fn: Callable[[], None]) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn)

    def set_concurrency(self, n: int) -> None:
        """Operator sets N by hand: the run continues as a fixed-N level at n."""

        def cmd() -> None:
            if self.ctx is None or self.controller is None:
                return
            self.controller = self.ctx.manual_controller(self.controller, n, self.clock())
            self._manual = True
            self.agg.event("info", f"N set by hand to {n}: search suspended; holding N={n} until stopped")
            self._apply(SetConcurrency(n))

        self.agg.submit(cmd)

    def pause(self) -> None:
        def cmd() -> None:
            self._paused = True
            self.agg.event("info", "paused: agents finish their current request, then wait")
            self._on_loop(lambda: self.fleet.pause() if self.fleet else None)

        self.agg.submit(cmd)

    def resume(self) -> None:
        def cmd() -> None:
            self._paused = False
            self.agg.event("info", "resumed: the current level is measured again from now")
            if self.controller is not None:
                self.controller.repeat_level(self.clock())
            self._on_loop(lambda: self.fleet.resume() if self.fleet else None)

        self.agg.submit(cmd)

    def skip_level(self) -> None:
        def cmd() -> None:
            if self.controller is not None:
                self.agg.event("info", "level skipped by the operator")
                self._apply(self.controller.skip_level(self.clock()))

        self.agg.submit(cmd)

    def repeat_level(self) -> None:
        def cmd() -> None:
            if self.controller is not None:
                self.agg.event("info", "level repeated by the operator")
                self._apply(self.controller.repeat_level(self.clock()))

        self.agg.submit(cmd)

    def annotate(self, text: str) -> None:
        def cmd() -> None:
            t = self.clock()
            if self.ctx is not None and self.run_id is not None:
                self.ctx.store.annotate(self.run_id, t, text)
            self.agg.event("annotation", text)

        self.agg.submit(cmd)

    def abort(self, reason: str = "aborted by the operator") -> None:
        def stop() -> None:
            self._finish_reason = "aborted"
            if self._done is not None:
                self._done.set()

        self.agg.event("warn", reason)
        self._on_loop(stop)

    # ---- the run ----
    def run(self) -> dict[str, Any]:
        """Run to the end on a fresh event loop in the calling thread; returns the summary."""
        runner = _new_loop_runner()
        try:
            return runner.run(self._main())
        finally:
            runner.close()

    async def _main(self) -> dict[str, Any]:
        cfg = self.config
        self.loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        self.agg.event("info", "starting: checking the endpoint")
        ctx = self.ctx = RunContext(cfg, self.clock, self.agg.event)
        try:
            client = StreamClient(
                ctx.base_url,
                api_key=ctx.api_key,
                max_connections=cfg.max_connections,
                read_timeout=cfg.request_timeout_s,
                backend=cfg.client,
            )
            try:
                return await self._measure(ctx, client)
            finally:
                await client.aclose()
        finally:
            ctx.close()

    async def _measure(self, ctx: RunContext, client: StreamClient) -> dict[str, Any]:
        cfg = self.config
        # Read the workload first: a bad trajectory file is reported before any request is sent.
        trajectories = load_set(cfg.trajectories_path())
        model = cfg.model
        if model is None:
            try:
                served = await list_models(client)
            except EndpointError as e:
                raise EngineError(f"endpoint {ctx.base_url}: {e}") from e
            if not served:
                raise EngineError(f"endpoint {ctx.base_url} lists no models; pass --model")
            model = served[0].id
        check = await check_endpoint(ctx.base_url, model, ctx.api_key)
        if not check.ok:
            raise EngineError(check.error or f"endpoint check of {ctx.base_url} failed")
        ctx.model = model
        self.agg.event(
            "info",
            f"endpoint ok: model {model} at {ctx.base_url}" + (" (SIMULATED)" if ctx.simulated else ""),
        )
        comparable = True
        probe_note = "exact output length not requested (--no-exact-length): not comparable"
        exact_fields: tuple[str, ...] = ()
        if cfg.exact_length:
            probe = await probe_exact_length(client, model)
            comparable = probe.comparable
            probe_note = probe.detail
            exact_fields = probe.exact_fields or EXACT_FIELDS
            self.agg.event(
                "info" if comparable else "warn",
                f"exact output length: {probe.detail}"
                + ("" if comparable else " -- run marked NOT COMPARABLE"),
            )
        else:
            comparable = False
            self.agg.event("warn", probe_note)
        calibration: Calibration | None = None
        if any(t.kind == "tokens" for t in trajectories):
            calibration = await self._calibrate(client, model)
        path = CHAT_PATH if cfg.api == "chat" else COMPLETIONS_PATH
        exact = cfg.exact_length

        def body(req: TurnRequest) -> bytes:
            if cfg.api == "chat":
                return chat_body(
                    model,
                    req.messages,
                    max_tokens=req.output_tokens,
                    tools=req.tools,
                    exact=exact,
                    exact_fields=exact_fields,
                )
            return completion_body(
                model,
                _prompt_text(req.messages),
                max_tokens=req.output_tokens,
                exact=exact,
                exact_fields=exact_fields,
            )

        self.run_id = ctx.start_run(
            model=model, comparable=comparable, probe_note=probe_note, trajectories=trajectories
        )
        self.controller = ctx.controller
        fleet = self.fleet = Fleet(
            client=client,
            path=path,
            body=body,
            trajectories=trajectories,
            calibration=calibration,
            clock=self.clock,
            out=self.inbox,
            seed=cfg.seed,
            tool_delay=cfg.tool_delay,
            think_time=cfg.think_time,
        )
        self.agg.on_results = self._on_results
        self.agg.build_extra = self._extra
        self.agg.level_index = self._level_index
        ctx.start_telemetry()
        # The controller starts before the aggregator thread, which may at once carry out an
        # operator command queued during start-up (N set by hand replaces the controller).
        first = self.controller.start(self.clock())
        fleet.set_target(first)
        self.agg.event("level", f"level 1: N={first}")
        self.agg.start()
        deadline = cfg.duration_s
        done = self._done
        assert done is not None
        try:
            if deadline is not None and cfg.mode == "fixed":
                try:
                    await asyncio.wait_for(done.wait(), timeout=deadline)
                except TimeoutError:
                    self._finish_reason = "finished"
            else:
                await done.wait()
        finally:
            await fleet.stop()
            self.agg.stop()
            ctx.stop_telemetry()
        if self.agg.error is not None:
            raise EngineError(f"aggregator failed: {self.agg.error}") from self.agg.error
        # The aggregator has stopped: the controller is this thread's now.
        self.controller.end_run(self.clock(), conclude=self._finish_reason == "finished")
        summary = ctx.finish(self.agg, self.controller, status=self._finish_reason, comparable=comparable)
        self.summary = summary
        self.agg.publish(self.clock())
        for o in self.observers:
            o.on_finish(summary)
        return summary

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
    def _on_results(self, results: list[RequestResult], done: list[TrajectoryDone]) -> None:
        ctx, ctl, fleet = self.ctx, self.controller, self.fleet
        if ctx is None or ctl is None or fleet is None or self.run_id is None:
            return
        if results:
            ctx.store.add_requests(self.run_id, results, self._level_index())
            for message in self._failures.new_kinds(results):
                self.agg.event("warn", message)
        ctx.drain_telemetry(self.run_id)
        if self._paused:
            return
        decision = ctl.tick(
            self.clock(),
            results,
            [(d.agent_id, d.t_start, d.t_end) for d in done],
            fleet.active(),
            ctx.window_energy,
        )
        ctx.save_levels(ctl)
        if decision is not None:
            self._apply(decision)

    def _level_index(self) -> int:
        """Index (in the run) of the level now being measured: requests are stored under it."""
        if self.ctx is None or self.controller is None:
            return -1
        return self.ctx.level_offset + len(self.controller.records)

    def _apply(self, decision: Any) -> None:
        if isinstance(decision, SetConcurrency):
            n = decision.n
            self.agg.event("level", f"level {self._level_index() + 1}: N={n}")
            self._on_loop(lambda: self.fleet.set_target(n) if self.fleet else None)
        elif isinstance(decision, Finished):
            res = decision.result
            if self._manual:
                lv = res.levels[-1] if res.levels else None
                verdict = "pass" if lv is not None and lv.passed else "fail"
                self.agg.event("level", f"hand-set level settled: {verdict}; still holding N until stopped")
            elif self.config.mode == "fixed":
                self.agg.event("info", f"level settled: N={res.n_star or self.config.concurrency}")
                if self.config.duration_s is None:
                    self._on_loop(lambda: self._done.set() if self._done else None)
            else:
                self.agg.event("info", f"search finished: N*={res.n_star}")
                self._on_loop(lambda: self._done.set() if self._done else None)

    def _extra(self) -> dict[str, Any]:
        ctx, fleet, ctl = self.ctx, self.fleet, self.controller
        agents, waiting, streaming, tool = fleet.counts() if fleet else (0, 0, 0, 0)
        return {
            "run_id": self.run_id or "",
            "simulated_endpoint": bool(ctx and ctx.simulated),
            "target_n": fleet.target if fleet else 0,
            "agents": agents,
            "agents_waiting": waiting,
            "agents_streaming": streaming,
            "agents_in_tool": tool,
            "level": ctl.level_view() if ctl else None,
            "search": ctl.view() if ctl else None,
            "power": ctx.power_view() if ctx else None,
            "server": ctx.server_view() if ctx else None,
            "paused": self._paused,
            "finished": self.summary is not None,
        }


def _new_loop_runner() -> asyncio.Runner:
    try:
        import uvloop

        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        return asyncio.Runner()
