"""How the console makes the engine of a run.

The default factory runs the real engine in a process of its own (`EngineProcess`), so drawing
the screen never competes with the engine for the interpreter while it timestamps tokens; tests
and the screenshot script may pass their own factory to `make_app`.
"""

from __future__ import annotations

from collections.abc import Callable

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.protocol import EngineControl, Observer

EngineFactory = Callable[[RunConfig, list[Observer]], EngineControl]


def real_engine(config: RunConfig, observers: list[Observer]) -> EngineControl:
    from agentperf_tui.core.engine.process import EngineProcess

    return EngineProcess(config, observers)
