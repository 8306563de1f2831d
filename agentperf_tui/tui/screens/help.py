"""`?` help: every key of every screen, read from the screens' own bindings."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
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


def bindings_table(sections: list[tuple[str, list[BindingType]]]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
    table.add_column(no_wrap=True, style="bold", min_width=12)
    table.add_column(ratio=1)
    for title, bindings in sections:
        table.add_row(Text(title, style="bold underline"), "")
        for b in bindings:
            if not isinstance(b, Binding):
                continue
            table.add_row(key_label(b), b.tooltip or b.description or b.action)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 72; max-width: 96%; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
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
            yield Static(bindings_table(self.sections))

    def action_close(self) -> None:
        self.dismiss()
