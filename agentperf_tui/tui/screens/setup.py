"""Setup: what to measure and against what, checked before anything runs.

Every field maps to one RunConfig field; flags given on the command line arrive prefilled, and
fields the form does not show (store, seed, warm-up…) pass through untouched.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ValidationError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Button, Header, Input, Label, Select, Static
from textual.worker import get_current_worker

from agentperf_tui.core import defaults, fmt
from agentperf_tui.core.choices import Choices
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.config_fields import BY_NAME, ConfigField, field
from agentperf_tui.core.preflight import CheckReport, Prober
from agentperf_tui.core.tiers import (
    SloProfileError,
    SloTier,
    TierSpecError,
    fmt_num,
    parse_tiers,
    tiers_label,
)
from agentperf_tui.tui import palette
from agentperf_tui.tui.widgets.keys_footer import KeysFooter

NO_GPU_COUNT = "GPU count unknown: agents per GPU will be missing; set GPUs (or Hardware)"
CUSTOM_TIER = "__custom__"
DEFAULT_CHOICE = "__default__"
FORM: tuple[tuple[str, bool], ...] = (
    ("endpoint", True),
    ("model", True),
    ("api_key_env", True),
    ("hardware", False),
    ("gpu_count", True),
    ("sim_model", False),
    ("tier", False),
    ("trajectories", False),
    ("tool_delay", False),
    ("mode", False),
    ("concurrency", True),
    ("sweep", True),
    ("duration_s", True),
    ("budget_s", True),
    ("rigour", False),
    ("workers", False),
    ("stall_timeout_s", True),
    ("request_timeout_s", True),
    ("telemetry", False),
)
"""The settings the form shows, in order (indented: belongs to the row above)."""
LABELLED_CHOICES: dict[str, list[tuple[str, str]]] = {
    "mode": [
        ("search: highest N within the tier", "search"),
        ("fixed N", "fixed"),
        ("sweep: a list of N", "sweep"),
    ],
    "rigour": [("fast: stop when settled", "fast"), ("strict: published rules", "strict")],
    "tool_delay": [("as recorded", "recorded"), ("AgentPerf baseline 0.1–5 s", "baseline")],
}
TELEMETRY = [
    ("auto", "auto"),
    ("local NVML", "nvml"),
    ("DCGM exporter…", "dcgm"),
    ("simulator power model", "sim"),
    ("none", "none"),
]


class FormError(ValueError):
    """The form cannot make a RunConfig; `problems` name the fields."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _row(label: str, widget: Widget, row_id: str) -> Horizontal:
    return Horizontal(Label(label, classes="field-label"), widget, classes="row", id=row_id)


def _with_value(options: list[tuple[str, str]], value: str | None) -> list[tuple[str, str]]:
    if value is not None and value not in {v for _, v in options}:
        return [*options, (value, value)]
    return options


class SetupScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "check", "Check endpoint"),
        Binding("f5", "start", "Start run"),
        Binding("f3", "app.runs", "Stored runs"),
        Binding("f1", "app.help", "Help"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, config: RunConfig, choices: Choices, prober: Prober) -> None:
        super().__init__()
        self.config = config
        self.choices = choices
        self.prober = prober
        self.report: CheckReport | None = None
        self.checked: tuple[Any, ...] | None = None
        """The endpoint settings the report is about."""
        self.stale: str | None = None
        """Why the report may no longer hold (None: it does)."""
        self._hardware_label = default_label("hardware", config.endpoint is None)

    # ---- layout ----
    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="setup-body"):
            with VerticalScroll(id="form"):
                yield _row("Endpoint", self._endpoint_kind(), "row-endpoint-kind")
                for name, indent in FORM:
                    f = field(name)
                    yield _row(("  " if indent else "") + f.label, self._widget(f), f"row-{f.widget_id}")
                    extra = self._after(f)
                    if extra is not None:
                        yield extra
                with Horizontal(id="setup-buttons"):
                    yield Button("Check endpoint  F2", id="check", compact=True)
                    yield Button("Start run  F5", id="start", variant="primary", compact=True)
            with Vertical(id="side"):
                yield Static(id="plan")
                yield Static(id="check-result")
        yield KeysFooter()

    def _endpoint_kind(self) -> Select[str]:
        return Select(
            [("embedded simulator", "sim"), ("OpenAI-compatible server", "url")],
            value="sim" if self.config.endpoint is None else "url",
            allow_blank=False,
            compact=True,
            id="endpoint-kind",
        )

    def _widget(self, f: ConfigField) -> Widget:
        """The form's widget for one setting: a choice list, or a text box typed by the setting."""
        c, ch = self.config, self.choices
        value = getattr(c, f.name)
        options = self._options(f)
        if options is not None:
            current = self._initial_option(f, value, options)
            return Select(options, value=current, allow_blank=False, compact=True, id=f.widget_id)
        kind: Literal["integer", "number", "text"] = (
            "integer" if f.parse is int else "number" if f.parse is float else "text"
        )
        suggester = (
            SuggestFromList(ch.trajectories, case_sensitive=False) if f.name == "trajectories" else None
        )
        return Input(
            _text(value),
            placeholder=f.placeholder,
            type=kind,
            suggester=suggester,
            compact=True,
            id=f.widget_id,
            valid_empty=True,  # an empty box means "the default", never an error
        )

    def _options(self, f: ConfigField) -> list[tuple[str, str]] | None:
        ch, c = self.choices, self.config
        if f.name == "hardware":
            default = (default_label("hardware", self.config.endpoint is None), DEFAULT_CHOICE)
            return [default, *((h, h) for h in _with_names(ch.hardware, c.hardware))]
        if f.name == "sim_model":
            default = (default_label("sim_model", True), DEFAULT_CHOICE)
            return [default, *((m, m) for m in _with_names(ch.sim_models, c.sim_model))]
        if f.name == "tier":
            return [*ch.tiers, ("custom S/T or a list…", CUSTOM_TIER)]
        if f.name == "telemetry":
            return _with_value(TELEMETRY, _split_telemetry(self.config.telemetry)[0])
        if f.name in LABELLED_CHOICES:
            return LABELLED_CHOICES[f.name]
        return [(v, v) for v in f.choices] if f.choices is not None else None

    def _initial_option(self, f: ConfigField, value: Any, options: list[tuple[str, str]]) -> str:
        if f.name in ("hardware", "sim_model"):
            return value or DEFAULT_CHOICE
        if f.name == "tier":
            return self._initial_tier(value, [name for _, name in self.choices.tiers])[0]
        if f.name == "telemetry":
            return _split_telemetry(value)[0]
        return str(value)

    def _after(self, f: ConfigField) -> Horizontal | None:
        """The free-text companion of a choice: a custom tier, a telemetry source."""
        if f.name == "tier":
            names = [name for _, name in self.choices.tiers]
            custom = self._initial_tier(self.config.tier, names)[1]
            hint = "100/5 (P25 ≥ 100 tok/s, P95 TTFT ≤ 5 s), or a list: 30/10,100/5"
            box = Input(custom, placeholder=hint, compact=True, id="tier-custom")
            return _row("  Custom S/T", box, "row-tier-custom")
        if f.name == "telemetry":
            arg = _split_telemetry(self.config.telemetry)[1]
            hint = "dcgm: http://node:9400/metrics · nvml: 0,1"
            box = Input(arg, placeholder=hint, compact=True, id="telemetry-arg")
            return _row("  Source", box, "row-telemetry-arg")
        return None

    def on_mount(self) -> None:
        self.title = "agentperf · setup"
        self._sync_enabled()
        self._show_plan()
        self._show_report()
        self.query_one("#endpoint-kind", Select).focus()

    @staticmethod
    def _initial_tier(tier: str | None, names: list[str]) -> tuple[str, str]:
        """(the choice to select, the custom box's text) for the tier(s) the run was given: the
        choice that means the same tiers (a family named without its version is its newest), or
        the custom box."""
        if tier is None:
            first = defaults.TIER if defaults.TIER in names else next(iter(sorted(names)), CUSTOM_TIER)
            return (first, "")
        if tier in names:
            return tier, ""
        try:
            wanted = [t.name for t in parse_tiers(tier)]
            for name in names:
                if [t.name for t in parse_tiers(name)] == wanted:
                    return name, ""
        except (TierSpecError, OSError, ValueError):
            pass
        return CUSTOM_TIER, tier

    # ---- reading the form ----
    def _value(self, wid: str) -> str:
        w = self.query_one(f"#{wid}")
        if isinstance(w, Select):
            return "" if w.is_blank() else str(w.value)
        assert isinstance(w, Input)
        return w.value.strip()

    def _read(self, name: str) -> str:
        return self._value(field(name).widget_id)

    def collect(self) -> RunConfig:
        """The RunConfig the form describes; FormError names each bad field."""
        problems: list[str] = []
        values: dict[str, Any] = self.config.model_dump()
        simulated = self._value("endpoint-kind") == "sim"
        values["endpoint"] = None if simulated else (self._read("endpoint") or None)
        if not simulated and values["endpoint"] is None:
            label = field("endpoint").label
            problems.append(f"{label}: give the server's base URL, or choose the embedded simulator")
        values["model"] = self._read("model") or None if not simulated else values.get("model")
        values["api_key_env"] = (self._read("api_key_env") or None) if not simulated else None
        for name in ("hardware", "sim_model"):
            chosen = self._read(name)
            values[name] = None if chosen == DEFAULT_CHOICE else chosen
        values["gpu_count"] = _parsed(self._read("gpu_count"), field("gpu_count"), problems)
        tier = self._read("tier")
        if tier == CUSTOM_TIER:
            text = self._value("tier-custom")
            values["tier"] = text or None
            if text:
                try:
                    parse_tiers(text)
                except (TierSpecError, SloProfileError) as e:
                    problems.append(f"Custom S/T: {e}")
        else:
            values["tier"] = tier or None
        values["trajectories"] = self._read("trajectories") or self.config.trajectories
        values["tool_delay"] = self._read("tool_delay")
        mode = self._read("mode")
        values["mode"] = mode
        n = _parsed(self._read("concurrency"), field("concurrency"), problems)
        if n is not None:
            values["concurrency"] = n
        if mode == "sweep":
            values["sweep"] = _parsed(self._read("sweep"), field("sweep"), problems, required=True)
        values["duration_s"] = (
            _parsed(self._read("duration_s"), field("duration_s"), problems) if mode == "fixed" else None
        )
        values["budget_s"] = (
            _parsed(self._read("budget_s"), field("budget_s"), problems) if mode == "search" else None
        )
        values["rigour"] = self._read("rigour")
        values["workers"] = _parsed(self._read("workers"), field("workers"), problems)
        values["stall_timeout_s"] = _parsed(self._read("stall_timeout_s"), field("stall_timeout_s"), problems)
        timeout = _parsed(self._read("request_timeout_s"), field("request_timeout_s"), problems)
        values["request_timeout_s"] = timeout if timeout is not None else self.config.request_timeout_s
        kind, arg = self._read("telemetry"), self._value("telemetry-arg")
        if kind == "dcgm":
            if not arg:
                problems.append("Telemetry source: give the DCGM exporter URL, e.g. http://node:9400/metrics")
            values["telemetry"] = f"dcgm:{arg}"
        elif kind == "nvml" and arg:
            values["telemetry"] = f"nvml:{arg}"
        else:
            values["telemetry"] = kind
        if problems:
            raise FormError(problems)
        try:
            return RunConfig(**values)
        except ValidationError as e:
            raise FormError([_field_message(err) for err in e.errors()]) from None

    # ---- reacting ----
    @on(Select.Changed)
    @on(Input.Changed)
    def _changed(self) -> None:
        self._sync_enabled()
        self._show_plan()
        if self.report is not None and self.stale is None and self._endpoint_key() != self.checked:
            self.stale = "the endpoint settings changed since"
            self._show_report()

    def on_screen_resume(self) -> None:
        """Back from a run: what the check found may have changed with it."""
        if self.report is not None and self.stale is None:
            self.stale = "a run has ended since"
            self._show_report()

    def _endpoint_key(self) -> tuple[Any, ...] | None:
        """The settings an endpoint check depends on."""
        try:
            c = self.collect()
        except FormError:
            return None
        return (c.endpoint, c.model, c.api_key_env, c.hardware, c.sim_model, c.exact_length, c.api)

    def _sync_enabled(self) -> None:
        simulated = self._value("endpoint-kind") == "sim"
        mode = self._value("mode")
        for rid in ("row-endpoint", "row-model", "row-api-key-env"):
            self.query_one(f"#{rid}").disabled = simulated
        self.query_one("#row-sim-model").disabled = not simulated
        self.query_one("#row-tier-custom").disabled = self._value("tier") != CUSTOM_TIER
        self.query_one("#row-sweep").disabled = mode != "sweep"
        self.query_one("#row-concurrency").disabled = mode == "sweep"
        self.query_one("#row-duration-s").disabled = mode != "fixed"
        self.query_one("#row-budget-s").disabled = mode != "search"
        label = self.query_one("#row-concurrency Label", Label)
        label.update("  Start N" if mode == "search" else "  N")
        self.query_one("#row-telemetry-arg").disabled = self._value("telemetry") not in ("dcgm", "nvml")
        hardware = self.query_one("#hardware", Select)
        hw_label = default_label("hardware", simulated)
        if self._hardware_label != hw_label:  # what "default" means follows the endpoint kind
            self._hardware_label = hw_label
            value = hardware.value
            options = self._options(field("hardware")) or []
            hardware.set_options([(hw_label, DEFAULT_CHOICE), *options[1:]])
            hardware.value = value

    def _show_plan(self) -> None:
        plan = self.query_one("#plan", Static)
        text = Text()
        text.append("What will run\n", style="bold")
        try:
            cfg = self.collect()
        except FormError as e:
            for p in e.problems:
                text.append("✗ ", style=palette.FAIL).append(p + "\n")
            plan.update(text)
            return
        if cfg.simulated:
            hw, model = cfg.hardware or defaults.SIM_HARDWARE, cfg.sim_model or defaults.SIM_MODEL
            text.append(" SIMULATED ", style=palette.SIMULATED).append(" embedded simulator\n")
            text.append(f"{model} on {hw}\n", style="dim")
        else:
            text.append(f"{cfg.endpoint}\n")
            if cfg.model:
                text.append(f"model {cfg.model}\n", style="dim")
            if cfg.gpu_count is None and cfg.hardware is None:
                text.append(f"! {NO_GPU_COUNT}\n", style=palette.WARN)
        if cfg.mode == "search":
            budget = f", within {fmt.duration(cfg.budget_s)}" if cfg.budget_s else ""
            text.append(f"search for the highest N, start at {cfg.concurrency}{budget}\n")
        elif cfg.mode == "fixed":
            until = f"for {cfg.duration_s:g} s" if cfg.duration_s else "until settled"
            text.append(f"{cfg.concurrency} agents {until}\n")
        else:
            text.append(f"sweep N = {', '.join(str(n) for n in cfg.sweep or [])}\n")
        if cfg.tier:
            try:
                tier_plan(text, parse_tiers(cfg.tier))
            except (TierSpecError, OSError, ValueError) as e:
                text.append(f"✗ tier: {e}\n", style=palette.FAIL)
        text.append(f"{cfg.rigour} · telemetry {cfg.telemetry}\n", style="dim")
        if self.choices.problems:
            for p in self.choices.problems:
                text.append(f"! {p}\n", style=palette.WARN)
        plan.update(text)

    def _show_report(self) -> None:
        box = self.query_one("#check-result", Static)
        if self.report is None:
            box.update(Text("Endpoint not checked yet (F2).", style="dim"))
            return
        text = Text()
        text.append("Endpoint check\n", style="bold")
        if self.stale is not None:
            text.append(f"STALE: {self.stale}; F2 checks again\n", style="bold " + palette.WARN)
        for row in self.report.rows:
            mark, style = {"ok": ("✓", palette.PASS), "warn": ("!", palette.WARN)}.get(
                row.status, ("✗", palette.FAIL)
            )
            if self.stale is not None:
                style = "dim"
            text.append(f"{mark} ", style=style).append(f"{row.what}: ", style="dim")
            text.append(row.found + "\n", style="dim" if self.stale else "" if row.status == "ok" else style)
        box.update(text)

    # ---- actions ----
    @on(Button.Pressed, "#check")
    def action_check(self) -> None:
        try:
            cfg = self.collect()
        except FormError as e:
            self.notify("; ".join(e.problems), title="Fix the form first", severity="error")
            return
        box = self.query_one("#check-result", Static)
        box.update(Text("checking the endpoint…", style="dim"))
        self._run_check(cfg, self._endpoint_key())

    @work(thread=True, exit_on_error=False, exclusive=True, group="check")
    def _run_check(self, cfg: RunConfig, key: tuple[Any, ...] | None) -> None:
        report = self.prober(cfg)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._checked, report, key)

    def _checked(self, report: CheckReport, key: tuple[Any, ...] | None) -> None:
        self.report, self.checked = report, key
        self.stale = None if key == self._endpoint_key() else "the endpoint settings changed since"
        self._show_report()

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        try:
            cfg = self.collect()
        except FormError as e:
            self.notify("\n".join(e.problems), title="Cannot start", severity="error", timeout=8)
            return
        start = getattr(self.app, "start_run", None)
        if start is not None:
            start(cfg)


def tier_plan(text: Text, tiers: tuple[SloTier, ...]) -> None:
    """What the run is judged against: one tier's criteria, or how many tiers (they share every
    level: one search answers them all) and each one's criteria."""
    if len(tiers) == 1:
        text.append(tiers[0].describe() + "\n", style="dim")
        return
    text.append(f"{len(tiers)} tiers", style="bold").append(", judged on the same levels: ")
    text.append(f"{tiers_label(tiers)}\n", style="dim")
    text.append("each: P25 speed ≥ S tok/s, P95 TTFT ≤ T s\n", style="dim")
    for t in tiers:
        s, ttft = fmt_num(t.speed_tok_s), fmt_num(t.ttft_s)
        text.append(f"  {t.name.rpartition('/')[2]}: ", style="dim").append(f"≥ {s} tok/s, ≤ {ttft} s\n")


def default_label(name: str, simulated: bool) -> str:
    """What "default" resolves to: the embedded simulator's profile, or (hardware, for a server)
    no profile at all."""
    if name == "sim_model":
        return f"default: {defaults.SIM_MODEL}"
    return f"default: {defaults.SIM_HARDWARE}" if simulated else "none (GPU count from GPUs)"


def _with_names(names: list[str], current: str | None) -> list[str]:
    return names if current is None or current in names else [*names, current]


def _split_telemetry(spec: str) -> tuple[str, str]:
    if spec.startswith("dcgm:"):
        return "dcgm", spec[5:]
    if spec.startswith("nvml:"):
        return "nvml", spec[5:]
    return spec, ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _parsed(text: str, f: ConfigField, problems: list[str], *, required: bool = False) -> Any:
    """The typed value of a text box, None when empty; a problem names the row when it is wrong."""
    if not text:
        if required:
            problems.append(f"{f.label}: {f.help}")
        return None
    assert f.parse is not None
    try:
        value = f.parse(text)
    except ValueError as e:
        if f.parse is int:
            problems.append(f"{f.label}: {text!r} is not a whole number")
        elif f.parse is float:
            problems.append(f"{f.label}: {text!r} is not a number")
        else:
            problems.append(f"{f.label}: {e}")
        return None
    if isinstance(value, int | float) and value <= 0:
        problems.append(f"{f.label}: must be more than 0")
        return None
    return value


def _field_message(err: Any) -> str:
    loc = err.get("loc", ())
    name = str(loc[0]) if loc else ""
    label = BY_NAME[name].label if name in BY_NAME else (name or "settings")
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{label}: {msg}"
