"""The console's observer: hands what the engine publishes over to the UI loop without blocking.

Called on the engine process's reader thread. `post_message` is Textual's thread-safe way in; it
only queues, so the reader never waits for the screen (`call_from_thread` would wait for the UI).
"""

from __future__ import annotations

import contextlib
from typing import Any

from textual.app import App
from textual.message import Message

from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.views import Event, Snapshot
from agentperf_tui.tui.messages import EngineEventReceived, EngineFailed, RunFinished, SnapshotReceived


class UiObserver:
    def __init__(self, app: App[Any]) -> None:
        self._app = app

    def _post(self, message: Message) -> None:
        # RuntimeError: the UI loop has closed (the console is exiting); the store has everything.
        with contextlib.suppress(RuntimeError):
            self._app.post_message(message)

    def on_snapshot(self, snap: Snapshot) -> None:
        self._post(SnapshotReceived(snap))

    def on_event(self, event: Event) -> None:
        self._post(EngineEventReceived(event))

    def on_finish(self, summary: RunSummary) -> None:
        self._post(RunFinished(summary))

    def on_error(self, error: BaseException) -> None:
        """The engine stopped with an exception instead of a summary."""
        self._post(EngineFailed(error))
