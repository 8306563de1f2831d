"""`?` help: every key of every screen, read from the screens' own bindings."""

from __future__ import annotations

import textwrap
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

_KEY_NAMES = {
    "question_mark": "?",
    "space": "Space",
    "escape": "Esc",
    "esc": "Esc",
    "enter": "Enter",
    "ctrl+c": "Ctrl+C",
    "ctrl+q": "Ctrl+Q",
    "tab": "Tab",
}


def _key_name(k: str) -> str:
    return _KEY_NAMES.get(k, k.upper() if k.startswith("f") and k[1:].isdigit() else k)


def key_label(binding: Binding) -> str:
    """ "Esc Esc" for a key pressed twice (from key_display), else every key of the binding."""
    if binding.key_display and " " in binding.key_display:
        return " ".join(_key_name(k) for k in binding.key_display.split())
    return " / ".join(_key_name(k) for k in binding.key.split(","))


KEY_WIDTH = 14
TEXT_WIDTH = 48
"""Fits the help box (72 columns less border, padding and scrollbar) next to the key column."""


def bindings_text(sections: list[tuple[str, list[BindingType]]]) -> Text:
    """Every key with what it does, one section per screen; long descriptions wrap under their own
    column. Plain text, laid out once: a table would be measured again on every repaint."""
    out = Text(no_wrap=True, end="")
    for title, bindings in sections:
        out.append(title, style="bold underline").append("\n")
        for b in bindings:
            if not isinstance(b, Binding):
                continue
            lines = textwrap.wrap(b.tooltip or b.description or b.action, TEXT_WIDTH) or [""]
            out.append(key_label(b).ljust(KEY_WIDTH), style="bold").append(lines[0] + "\n")
            for line in lines[1:]:  # the indent is a span of its own, so SVG exports keep it
                out.append(" " * KEY_WIDTH, style="dim").append(line + "\n")
        out.append("\n")
    out.rstrip()
    return out


class HelpScreen(Screen[None]):
    """A screen of its own, not a dialog over the one it was opened from: showing through, a busy
    dashboard would repaint the whole dimmed screen on each change. The app builds it once and
    shows the same one each time (the keys never change), so `?` costs one paint, not a build."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 72; max-width: 96%; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen Static { text-wrap: nowrap; text-overflow: ellipsis; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1,q", "close", "Close help", key_display="Esc")
    ]

    def __init__(self, screens: list[tuple[str, type[Screen[object]]]], general: list[BindingType]) -> None:
        super().__init__()
        self.sections: list[tuple[str, list[BindingType]]] = [(t, list(s.BINDINGS)) for t, s in screens]
        self.sections.append(("Everywhere", general))

    def compose(self) -> ComposeResult:
        scroll = VerticalScroll()
        scroll.border_title = "Keys"
        scroll.border_subtitle = "Esc to close"
        with scroll:
            yield Static(bindings_text(self.sections))

    def on_screen_resume(self) -> None:
        self.query_one(VerticalScroll).scroll_home(animate=False)

    def action_close(self) -> None:
        self.dismiss()
