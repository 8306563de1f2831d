"""Messages from the engine thread to the UI loop, named for what happened.

Snapshots arrive 2-4 times a second; a newer one replaces an older one still waiting in the
queue (`can_replace`), so a busy UI never works through a backlog of stale frames.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from agentperf_tui.core.observer import Event, Snapshot


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
    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__()
        self.summary = summary


class EngineFailed(Message):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
