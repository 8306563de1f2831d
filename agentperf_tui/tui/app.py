"""The console application and its one factory, `make_app`, shared by the CLI, tests and the
screenshot script.

The engine runs in a process of its own and reports through `UiObserver`, which only posts
messages; store reads, exports and endpoint checks run in thread workers. Any worker failure
lands in one handler that tells the operator and keeps the console open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from agentperf_tui.core.choices import Choices, load_choices
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.protocol import Abort, EngineControl
from agentperf_tui.core.preflight import Prober
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.tui.bridge import UiObserver
from agentperf_tui.tui.engine_port import EngineFactory, real_engine
from agentperf_tui.tui.messages import EngineEventReceived, EngineFailed, RunFinished, SnapshotReceived
from agentperf_tui.tui.screens.compare import CompareScreen
from agentperf_tui.tui.screens.dashboard import DashboardScreen
from agentperf_tui.tui.screens.help import HelpScreen
from agentperf_tui.tui.screens.result import ResultScreen
from agentperf_tui.tui.screens.runs import RunsScreen
from agentperf_tui.tui.screens.setup import SetupScreen

ENGINE_STOP_WAIT_S = 10.0
HELP_SCREEN = "help"


class AgentPerfApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "agentperf"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", show=False),
        Binding("f1", "help", "Help", show=False),
    ]

    def __init__(
        self,
        config: RunConfig,
        *,
        engine_factory: EngineFactory = real_engine,
        prober: Prober | None = None,
        choices: Choices | None = None,
        autostart: bool = False,
    ) -> None:
        super().__init__()
        self.config = config
        self.engine_factory = engine_factory
        self.prober = prober if prober is not None else _default_prober()
        self.choices = choices if choices is not None else load_choices()
        self.autostart = autostart
        self.engine: EngineControl | None = None
        self.dashboard: DashboardScreen | None = None
        self.setup_screen: SetupScreen | None = None
        self.summary: RunSummary | None = None

    # ---- lifecycle ----
    def on_mount(self) -> None:
        self.setup_screen = SetupScreen(self.config, self.choices, self.prober)
        self.push_screen(self.setup_screen)
        if self.autostart:
            self.start_run(self.config)

    def start_run(self, config: RunConfig) -> None:
        if self.engine is not None and self.dashboard is not None and not self.dashboard.finished:
            self.notify("A run is already going; abort it first (Esc Esc)", severity="warning")
            return
        self.config = config
        self.summary = None
        engine = self.engine_factory(config, [UiObserver(self)])
        self.engine = engine
        self.dashboard = DashboardScreen(config, engine)
        self.push_screen(self.dashboard)
        self._start_engine(engine)

    @work(thread=True, exit_on_error=False, group="engine", name="start engine")
    def _start_engine(self, engine: EngineControl) -> None:
        engine.start()

    def on_unmount(self) -> None:
        engine = self.engine
        if engine is not None and self.dashboard is not None and not self.dashboard.finished:
            engine.submit(Abort("the console was closed"))
            if not engine.join(ENGINE_STOP_WAIT_S):
                engine.terminate()

    # ---- engine messages ----
    def on_snapshot_received(self, message: SnapshotReceived) -> None:
        if self.dashboard is not None:
            self.dashboard.take_snapshot(message.snapshot)

    def on_engine_event_received(self, message: EngineEventReceived) -> None:
        if self.dashboard is not None:
            self.dashboard.take_event(message.event)

    def on_run_finished(self, message: RunFinished) -> None:
        self.summary = message.summary
        if self.dashboard is not None:
            self.dashboard.finish()
        self.show_result()

    def on_engine_failed(self, message: EngineFailed) -> None:
        text = f"the run stopped: {type(message.error).__name__}: {message.error}"
        self.notify(text, title="Run failed", severity="error", timeout=15)
        if self.dashboard is not None:
            self.dashboard.engine_failed(text)

    def show_result(self) -> None:
        if self.summary is not None:
            self.push_screen(ResultScreen(self.summary, live=True))

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        err = event.worker.error
        what = event.worker.name or "background task"
        message = f"{what} failed: {type(err).__name__}: {err}"
        self.log.error(message)
        self.notify(message, title="Error", severity="error", timeout=10)
        if event.worker.group == "engine" and self.dashboard is not None:
            self.dashboard.engine_failed(message)

    # ---- navigation ----
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        if not self.is_screen_installed(HELP_SCREEN):  # built once: the keys never change
            screens: list[tuple[str, type[Screen[Any]]]] = [
                ("Setup", SetupScreen),
                ("Live dashboard", DashboardScreen),
                ("Result", ResultScreen),
                ("Stored runs", RunsScreen),
                ("Compare", CompareScreen),
            ]
            self.install_screen(HelpScreen(screens, list(self.BINDINGS)), HELP_SCREEN)
        self.push_screen(HELP_SCREEN)

    def action_new_run(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, SetupScreen):
            self.pop_screen()

    def action_runs(self) -> None:
        if not isinstance(self.screen, RunsScreen):
            self.push_screen(RunsScreen(self.store_path()))

    def store_path(self) -> Path:
        if self.config.store:
            return Path(self.config.store).expanduser()
        from agentperf_tui.core.store.paths import default_store_path

        return Path(default_store_path())

    def ask_export(self, run_id: str, store: str | None) -> None:
        from agentperf_tui.tui.export import ask_export

        ask_export(self, run_id, Path(store) if store else self.store_path())


def _default_prober() -> Prober:
    from agentperf_tui.core.preflight import check_config

    return check_config


def make_app(
    config: RunConfig | None = None,
    *,
    engine_factory: EngineFactory = real_engine,
    prober: Prober | None = None,
    choices: Choices | None = None,
    autostart: bool = False,
) -> AgentPerfApp:
    """The console, configured: `config` prefills the setup screen (and is run at once with
    `autostart`); tests pass a fake `engine_factory`, `prober` and `choices`."""
    return AgentPerfApp(
        config if config is not None else RunConfig(),
        engine_factory=engine_factory,
        prober=prober,
        choices=choices,
        autostart=autostart,
    )
