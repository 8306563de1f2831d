"""EngineHandle: an engine on a thread of this process, controlled from any other thread (the
headless CLI). The console uses `EngineProcess` instead, which has the same controls."""

from __future__ import annotations

import sys
import threading

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.engine import Engine
from agentperf_tui.core.engine.protocol import Abort, Command, Observer
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.views import Snapshot

ENGINE_SWITCH_INTERVAL_S = 0.001


class EngineHandle:
    def __init__(self, config: RunConfig, observers: list[Observer] | None = None) -> None:
        self.config = config
        self.engine = Engine(config, observers)
        self._thread: threading.Thread | None = None
        self.summary: RunSummary | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        # The stream loop shares the interpreter with the aggregator thread and, on the embedded
        # simulator, with the server's thread. A 1 ms switch interval, instead of 5 ms, bounds how
        # long another thread can hold the interpreter while a stream's chunk waits to be timestamped.
        if sys.getswitchinterval() > ENGINE_SWITCH_INTERVAL_S:
            sys.setswitchinterval(ENGINE_SWITCH_INTERVAL_S)
        self._thread = threading.Thread(target=self._run, name="agentperf-engine", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.summary = self.engine.run()
        except BaseException as e:  # reported to the caller through .error
            self.error = e
            self.engine.agg.event("error", f"{type(e).__name__}: {e}")
            for o in self.engine.observers:
                failed = getattr(o, "on_error", None)
                if failed is not None:
                    failed(e)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def terminate(self) -> None:
        """A thread cannot be killed: abort, which ends the run at its next step."""
        self.submit(Abort("stopped"))

    @property
    def run_id(self) -> str | None:
        return self.engine.run_id

    @property
    def store_path(self) -> str | None:
        return self.engine.ctx.store_path if self.engine.ctx else self.config.store

    def latest(self) -> Snapshot | None:
        return self.engine.agg.last_snapshot

    def submit(self, command: Command) -> None:
        self.engine.submit(command)
