"""An observer that keeps what an engine sends: snapshots, events and the summary."""

from __future__ import annotations

from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.views import Event, Snapshot


class Recorder:
    def __init__(self) -> None:
        self.snaps: list[Snapshot] = []
        self.events: list[Event] = []
        self.summary: RunSummary | None = None

    def on_snapshot(self, s: Snapshot) -> None:
        self.snaps.append(s)

    def on_event(self, e: Event) -> None:
        self.events.append(e)

    def on_finish(self, summary: RunSummary) -> None:
        self.summary = summary
