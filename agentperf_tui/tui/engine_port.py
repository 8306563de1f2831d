"""What the console needs from a run: the engine handle's control surface, and how to make one.

The default factory runs the real engine in a process of its own (`EngineProcess`), so drawing
the screen never competes with the engine for the interpreter while it timestamps tokens; tests
and the screenshot script may pass their own factory to `make_app`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.observer import Observer


class EngineControl(Protocol):
    """Thread-safe controls of a running engine (see core/engine/process.py)."""

    @property
    def run_id(self) -> str | None: ...

    @property
    def store_path(self) -> Any: ...

    def start(self) -> None: ...

    def set_concurrency(self, n: int) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def skip_level(self) -> None: ...

    def repeat_level(self) -> None: ...

    def annotate(self, text: str) -> None: ...

    def abort(self) -> None: ...

    def join(self, timeout: float | None = None) -> Any: ...

    def terminate(self) -> None:
        """Stop the engine at once when an abort was not enough (the store keeps what it has)."""


EngineFactory = Callable[[RunConfig, list[Observer]], EngineControl]


def real_engine(config: RunConfig, observers: list[Observer]) -> EngineControl:
    from agentperf_tui.core.engine.process import EngineProcess

    engine: EngineControl = EngineProcess(config, observers)
    return engine
