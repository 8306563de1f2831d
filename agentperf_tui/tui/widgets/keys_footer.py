"""The footer of every screen: Textual's Footer, rebuilt only when the keys it shows change.

Textual's Footer rebuilds its keys (a widget each, styled and laid out) whenever its screen's
bindings may have changed, which includes every time another screen goes over its screen and
every time it comes back: tens of milliseconds of a key press spent on a footer nobody sees, or
that shows what it already showed.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

ShownKeys = tuple[tuple[str, str, bool, str], ...]


def shown_keys(screen: Screen[object]) -> ShownKeys:
    """The keys a footer on `screen` shows now: key, description, enabled, tooltip."""
    return tuple(
        (a.binding.key, a.binding.description, a.enabled, a.tooltip)
        for a in screen.active_bindings.values()
        if a.binding.show
    )


class KeysFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._shown: ShownKeys | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        if not self.is_attached or screen is not self.screen or self.app.screen is not screen:
            return  # covered: it is looked at again when its screen is back on top
        keys = shown_keys(screen)
        if keys == self._shown:
            return
        self._shown = keys
        super().bindings_changed(screen)
