"""The live dashboard: panels drawn from the latest snapshot, and the run's controls.

Snapshots arrive as messages (newest replaces older ones still queued); the screen only stores
the latest one and a timer redraws a few times a second, so a burst of snapshots never turns into
a burst of redraws. A redraw paints the panels one after another, a few milliseconds apart, not
all in one frame: the screen then never stops answering keys for the time of a whole-screen paint.

Covered by another screen (help, the result, stored runs), the dashboard does not draw at all; it
catches up with the latest snapshot when it is on top again. Under a dialog that dims it, it is
redrawn every few seconds in one frame: each change under a dialog repaints the whole dimmed
screen, so panel-by-panel repaints would cost a whole-screen paint each.
"""

from __future__ import annotations

import time
from collections import deque
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import RichLog

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.protocol import (
    Abort,
    Annotate,
    EngineControl,
    Pause,
    RepeatLevel,
    Resume,
    SetConcurrency,
    SkipLevel,
)
from agentperf_tui.core.fmt import duration
from agentperf_tui.core.views import Event, Snapshot
from agentperf_tui.tui import palette
from agentperf_tui.tui.collector import settle
from agentperf_tui.tui.history import History
from agentperf_tui.tui.screens.prompt import ConfirmScreen, PromptScreen
from agentperf_tui.tui.widgets.agents import AgentsPanel
from agentperf_tui.tui.widgets.keys_footer import KeysFooter
from agentperf_tui.tui.widgets.panel import Panel
from agentperf_tui.tui.widgets.power import PowerPanel
from agentperf_tui.tui.widgets.search import SearchPanel
from agentperf_tui.tui.widgets.server import ServerPanel
from agentperf_tui.tui.widgets.speed import SpeedPanel
from agentperf_tui.tui.widgets.status import RunStatus, status_text
from agentperf_tui.tui.widgets.throughput import ThroughputPanel
from agentperf_tui.tui.widgets.ttft import TtftPanel

REDRAW_S = 0.3
PANEL_STAGGER_S = 0.03
DIMMED_REDRAW_S = 2.0
ABORT_ARM_S = 3.0
EVENT_STYLES = {"warn": palette.WARN, "error": palette.FAIL, "level": "bold", "annotation": palette.P95}


class EventLog(RichLog, can_focus=True):
    """The run's events, newest last. Lines wrap at the log's width, and are wrapped again when
    that width changes (a zoomed log shows each event on as few lines as it can)."""

    DEFAULT_CSS = """
    EventLog {
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-title-style: bold;
        height: 1fr;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    EventLog:focus { border: round $accent; }
    """
    MAX_EVENTS = 1000

    def __init__(self) -> None:
        super().__init__(
            id="events", max_lines=self.MAX_EVENTS, wrap=True, markup=False, highlight=False, min_width=20
        )
        self.border_title = "Events"
        self.events: deque[Event] = deque(maxlen=self.MAX_EVENTS)
        self._wrapped_at = 0

    def add(self, event: Event) -> None:
        self.events.append(event)
        self.write(self._line(event))

    @staticmethod
    def _line(event: Event) -> Text:
        line = Text(no_wrap=False)
        line.append(f"{duration(event.t):>7} ", style="dim")
        line.append(event.message, style=EVENT_STYLES.get(event.kind, ""))
        return line

    def on_resize(self, event: Resize) -> None:
        super().on_resize(event)  # the first size: RichLog writes what waited for it
        width = event.size.width
        if not width or width == self._wrapped_at:
            return
        first, self._wrapped_at = self._wrapped_at == 0, width
        if not first:
            self.clear()
            for e in self.events:
                self.write(self._line(e))


class DashboardScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "app.help", "Help", key_display="?", tooltip="This list of keys"),
        Binding(
            "escape",
            "abort_twice",
            "Abort",
            key_display="esc esc",
            tooltip="Abort the run: Escape twice within 3 s (the partial run stays in the store)",
        ),
        Binding("ctrl+c", "abort", "Abort now", show=False, priority=True, tooltip="Abort the run at once"),
        Binding(
            "space",
            "toggle_pause",
            "Pause",
            tooltip="Pause or resume: agents finish their request, then wait; the level restarts on resume",
        ),
        Binding("n", "set_n", "Set N", tooltip="Set N by hand (the search stops; the run goes on at that N)"),
        Binding("s", "skip_level", "Skip", tooltip="Skip the current level"),
        Binding("r", "repeat_level", "Repeat", tooltip="Repeat the current level"),
        Binding("a", "annotate", "Note", tooltip="Annotate the run (e.g. max-num-seqs 256)"),
        Binding("z", "zoom", "Zoom", tooltip="Zoom the focused panel (Tab moves focus); z again to restore"),
        Binding("enter", "result", "Result", tooltip="Show the result (once the run has finished)"),
    ]
    RUNNING_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"toggle_pause", "set_n", "skip_level", "repeat_level", "annotate", "abort_twice", "abort"}
    )

    def __init__(self, config: RunConfig, engine: EngineControl) -> None:
        super().__init__()
        self.config = config
        self.engine = engine
        self.history = History()
        self.latest: Snapshot | None = None
        self._drawn: Snapshot | None = None
        self._to_draw: deque[Panel] = deque()
        self._dimmed_drawn_at = 0.0
        self._abort_armed_at: float | None = None
        self.aborting = False
        self.paused = False
        self.paused_at: float | None = None
        """Run time the run was paused at (the clocks on screen stop there while it is)."""
        self.finished = False

    def compose(self) -> ComposeResult:
        yield RunStatus(id="status")
        with Grid(id="panels"):
            yield SearchPanel(duration_s=self.config.duration_s if self.config.mode == "fixed" else None)
            yield TtftPanel()
            yield SpeedPanel()
            yield AgentsPanel()
            yield ThroughputPanel()
            yield PowerPanel()
            yield ServerPanel()
            yield EventLog()
        yield KeysFooter()

    def on_mount(self) -> None:
        self.call_after_refresh(settle)  # built: what exists now lives as long as the run
        self.set_interval(REDRAW_S, self.redraw)
        self._stagger = self.set_interval(PANEL_STAGGER_S, self._draw_next_panel, pause=True)
        self._layout_for(self.size.width, self.size.height)
        self.redraw()

    def on_resize(self) -> None:
        self._layout_for(self.size.width, self.size.height)

    def _layout_for(self, width: int, height: int) -> None:
        grid = self.query_one("#panels", Grid)
        grid.set_class(width >= 140, "-wide")
        grid.set_class(height >= 40, "-tall")

    # ---- data in ----
    def take_snapshot(self, snap: Snapshot) -> None:
        self.latest = snap
        self.history.add(snap)
        self.paused = snap.paused
        if not snap.paused:
            self.paused_at = None
        elif self.paused_at is None:
            self.paused_at = snap.t

    def take_event(self, event: Event) -> None:
        for log in self.query(EventLog):  # none once the console is closing
            log.add(event)

    def covered(self) -> str | None:
        """None when the dashboard is the top screen; "dimmed" under dialogs it shows through;
        "hidden" under (or out of) the screens above it."""
        stack = self.app.screen_stack
        if self not in stack:
            return "hidden"
        above = stack[stack.index(self) + 1 :]
        if not above:
            return None
        return "dimmed" if all(s.styles.background.a < 1 for s in above) else "hidden"

    def redraw(self, *, all_at_once: bool = False) -> None:
        statuses = self.query(RunStatus)
        if not statuses:  # the console is closing: the run's end came after the screen went
            return
        covered = self.covered()
        if covered == "hidden":
            self._stop_drawing()
            return
        if covered == "dimmed":
            now = time.monotonic()
            if now - self._dimmed_drawn_at < DIMMED_REDRAW_S:
                return
            self._dimmed_drawn_at = now
            all_at_once = True
        statuses.first().update(
            status_text(
                self.latest,
                simulated=self.config.simulated if self.latest is None else self.latest.simulated_endpoint,
                run_id=self.engine.run_id,
                aborting=self._abort_armed(),
                finished=self.finished,
                paused_at=self.paused_at,
            )
        )
        snap = self.latest
        if snap is None or snap is self._drawn:
            return
        self._drawn = snap
        for panel in self.query(SearchPanel):
            panel.clock_t = self.paused_at if snap.paused else None
        self._to_draw = deque(self.query(Panel))
        if all_at_once:
            while self._to_draw:
                self._draw_next_panel()
            return
        self._draw_next_panel()
        self._stagger.resume()

    def _draw_next_panel(self) -> None:
        if not self._to_draw or self._drawn is None:
            self._stagger.pause()
            return
        covered = self.covered()
        if covered == "hidden":
            self._stop_drawing()
            return
        self._to_draw.popleft().show(self._drawn, self.history)
        while covered == "dimmed" and self._to_draw:  # a repaint under a dialog is a whole-screen one
            self._to_draw.popleft().show(self._drawn, self.history)

    def _stop_drawing(self) -> None:
        """A screen went over the dashboard: panels not yet drawn wait for its return."""
        if self._to_draw:
            self._to_draw.clear()
            self._drawn = None
        self._stagger.pause()

    def on_screen_resume(self) -> None:
        self.redraw()

    def _abort_armed(self) -> bool:
        return self._abort_armed_at is not None and time.monotonic() - self._abort_armed_at < ABORT_ARM_S

    def finish(self) -> None:
        """The engine reported its summary: controls give way to viewing the result."""
        self.finished = True
        self._abort_armed_at = None
        self.refresh_bindings()
        self.redraw()

    def engine_failed(self, message: str) -> None:
        self.take_event(Event(self.latest.t if self.latest else 0.0, "error", message))
        self.finished = True
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.RUNNING_ONLY:
            return not self.finished
        if action == "result":
            return self.finished
        return True

    def action_result(self) -> None:
        show = getattr(self.app, "show_result", None)
        if show is not None:
            show()

    # ---- controls ----
    def action_toggle_pause(self) -> None:
        if self.paused:
            self.engine.submit(Resume())
            self.notify("resuming: the level starts over from now", timeout=3)
            self.paused = False
            return
        level = self.latest.level if self.latest is not None else None
        which = f"the current level (N={level.n})" if level is not None else "the current level"
        body = (
            "Agents finish the request they are on, then wait.\n\n"
            f"On resume, {which} starts over: what it has measured so far is discarded "
            "(kept in the store, marked discarded)."
        )

        def chosen(yes: bool | None) -> None:
            if yes and not self.finished:
                self.engine.submit(Pause())
                self.notify("pausing: agents finish their current request, then wait", timeout=3)
                self.paused = True

        self.app.push_screen(ConfirmScreen("Pause the run?", body, yes="Pause"), chosen)

    def action_set_n(self) -> None:
        current = self.latest.target_n if self.latest is not None else self.config.concurrency

        def done(value: str | None) -> None:
            if value is None:
                return
            try:
                n = int(value)
                if n < 1:
                    raise ValueError
            except ValueError:
                self.notify(f"N must be a whole number ≥ 1 (got {value!r})", severity="error")
                return
            self.engine.submit(SetConcurrency(n))
            self.notify(f"N set to {n}: the search is suspended, this is now a fixed level", timeout=4)

        self.app.push_screen(
            PromptScreen("Set N by hand", f"Concurrent agents (now {current})", str(current), numeric=True),
            done,
        )

    def action_skip_level(self) -> None:
        self.engine.submit(SkipLevel())
        self.notify("skipping the current level", timeout=2)

    def action_repeat_level(self) -> None:
        self.engine.submit(RepeatLevel())
        self.notify("repeating the current level", timeout=2)

    def action_annotate(self) -> None:
        def done(value: str | None) -> None:
            if value:
                self.engine.submit(Annotate(value))
                self.notify(f"noted: {value}", timeout=3)

        self.app.push_screen(PromptScreen("Annotate the run", "Note (e.g. max-num-seqs 256)", ""), done)

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        if isinstance(focused, Panel | EventLog):
            self.maximize(focused)
        else:
            self.notify("Tab to a panel, then z to zoom it", timeout=3)

    def action_abort_twice(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        if self._abort_armed():
            self.action_abort()
            return
        self._abort_armed_at = time.monotonic()
        self.notify("Press Escape again within 3 s to abort the run", severity="warning", timeout=ABORT_ARM_S)
        self.redraw()

    def action_abort(self) -> None:
        if self.aborting:
            return
        self.aborting = True
        self._abort_armed_at = None
        self.engine.submit(Abort())
        self.notify("aborting: agents stop, the partial run is kept in the store", severity="warning")
