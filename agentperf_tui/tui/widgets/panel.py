"""Base of the dashboard panels: a bordered, focusable box that redraws from the latest state.

A panel keeps references to the latest snapshot and the shared history, and the lines it drew
from them. `show()` draws the lines at once (Rich renders the panel's renderable at the panel's
size) and asks for a repaint only when they changed; Textual then paints the lines as they are
(`render_line`), so a repaint that brings nothing new (focus moving, a screen closing over the
dashboard) costs no drawing, and a panel whose figures did not move costs no repaint.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
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
    }
    Panel:focus {
        border: round $accent;
    }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._labels: tuple[str, str] = ("", "")
        self.set_title(title)
        self.snap: Snapshot | None = None
        self.history: History | None = None
        self._lines: list[Strip] = []
        self._drawn_at: Size | None = None
        """The panel's size when its lines were drawn (None: to draw again, its style changed)."""

    def set_title(self, title: str) -> None:
        """The border title; setting it repaints the panel, so only when it changes."""
        if title != self._labels[0]:
            self._labels = (title, self._labels[1])
            self.border_title = title

    def set_subtitle(self, subtitle: str) -> None:
        if subtitle != self._labels[1]:
            self._labels = (self._labels[0], subtitle)
            self.border_subtitle = subtitle

    def show(self, snap: Snapshot, history: History) -> None:
        self.snap, self.history = snap, history
        if not self.is_mounted or not self.content_size:
            self.refresh()  # drawn when it is first painted
        elif self._draw_lines():
            self.refresh()

    def render(self) -> RenderableType:
        """What the panel shows, as a Rich renderable at its content size."""
        if self.snap is None or self.history is None:
            return Text("waiting for the first snapshot…", style="dim")
        w, h = self.content_size.width, self.content_size.height
        if w < 8 or h < 1:
            return Text("")
        return self.draw(self.snap, self.history, w, h)

    def draw(self, snap: Snapshot, history: History, width: int, height: int) -> RenderableType:
        raise NotImplementedError

    def _draw_lines(self) -> bool:
        """Draw the lines at the content size; True when they differ from the ones shown."""
        w, h = self.content_size.width, self.content_size.height
        style = self.rich_style
        console = self.app.console
        options = console.options.update(
            width=w, height=h, no_wrap=True, overflow="ellipsis", highlight=False, markup=False
        )
        lines = [Strip(line, w) for line in console.render_lines(self.render(), options, style=style)]
        self._drawn_at = self.outer_size
        if lines == self._lines:
            return False
        self._lines = lines
        return True

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn_at = None

    def render_line(self, y: int) -> Strip:
        if self._drawn_at != self.outer_size:  # (the size of the whole panel: cheap to read)
            self._draw_lines()  # resized, restyled, or never drawn
        if y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.content_size.width, self.rich_style)
