"""Messages from the engine's reader thread to the UI loop, named for what happened.

Snapshots arrive 2-4 times a second; a newer one replaces an older one still waiting in the
queue (`can_replace`), so a busy UI never works through a backlog of stale frames.
"""

from __future__ import annotations

from textual.message import Message

from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.views import Event, Snapshot


class SnapshotReceived(Message):
    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReceived)


class EngineEventReceived(Message):
    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class RunFinished(Message):
    def __init__(self, summary: RunSummary) -> None:
        super().__init__()
        self.summary = summary


class EngineFailed(Message):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
