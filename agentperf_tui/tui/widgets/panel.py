"""Base of the dashboard panels: a bordered, focusable box that redraws from the latest state.

A panel keeps only references to the latest snapshot and the shared history; drawing happens in
`render()`, which Textual calls once per refresh and only for visible widgets.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

from agentperf_tui.core.views import Snapshot
from agentperf_tui.tui.history import History


def stack(*lines: Text) -> Text:
    """Lines one under the other, each cut at the panel's edge instead of wrapping."""
    out = Text(no_wrap=True, overflow="ellipsis", end="")
    for i, line in enumerate(lines):
        if i:
            out.append("\n")
        out.append_text(line)
    return out


class Panel(Widget, can_focus=True):
    DEFAULT_CSS = """
    Panel {
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        padding: 0 1;
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    Panel:focus {
        border: round $accent;
    }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = title
        self.snap: Snapshot | None = None
        self.history: History | None = None

    def show(self, snap: Snapshot, history: History) -> None:
        self.snap, self.history = snap, history
        self.refresh()

    def render(self) -> RenderableType:
        if self.snap is None or self.history is None:
            return Text("waiting for the first snapshot…", style="dim")
        w, h = self.content_size.width, self.content_size.height
        if w < 8 or h < 1:
            return Text("")
        return self.draw(self.snap, self.history, w, h)

    def draw(self, snap: Snapshot, history: History, width: int, height: int) -> RenderableType:
        raise NotImplementedError
