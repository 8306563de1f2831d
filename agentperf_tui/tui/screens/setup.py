"""Setup: what to measure and against what, checked before anything runs.

Every field maps to one RunConfig field; flags given on the command line arrive prefilled, and
fields the form does not show (store, seed, warm-up…) pass through untouched.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static
from textual.worker import get_current_worker

from agentperf_tui.core.choices import Choices
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.preflight import CheckReport, Prober
from agentperf_tui.core.tiers import TierSpecError, parse_tier
from agentperf_tui.tui import palette

CUSTOM_TIER = "__custom__"
DEFAULT_CHOICE = "__default__"
MODES = [
    ("search: highest N within the tier", "search"),
    ("fixed N", "fixed"),
    ("sweep: a list of N", "sweep"),
]
RIGOURS = [("fast: stop when settled", "fast"), ("strict: published rules", "strict")]
TELEMETRY = [
    ("auto", "auto"),
    ("local NVML", "nvml"),
    ("DCGM exporter…", "dcgm"),
    ("simulator power model", "sim"),
    ("none", "none"),
]
TOOL_DELAY = [("as recorded", "recorded"), ("AgentPerf baseline 0.1–5 s", "baseline")]


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

    # ---- layout ----
    def compose(self) -> ComposeResult:
        c, ch = self.config, self.choices
        tier_names = {name for _, name in ch.tiers}
        tier_value, custom_text = self._initial_tier(c.tier, tier_names)
        yield Header(icon="◆")
        with Horizontal(id="setup-body"):
            with VerticalScroll(id="form"):
                yield _row(
                    "Endpoint",
                    Select(
                        [("embedded simulator", "sim"), ("OpenAI-compatible server", "url")],
                        value="sim" if c.endpoint is None else "url",
                        allow_blank=False,
                        compact=True,
                        id="endpoint-kind",
                    ),
                    "row-endpoint-kind",
                )
                yield _row(
                    "  URL",
                    Input(c.endpoint or "", placeholder="http://host:8000", compact=True, id="endpoint"),
                    "row-endpoint",
                )
                yield _row(
                    "  Model",
                    Input(
                        c.model or "", placeholder="first model the server lists", compact=True, id="model"
                    ),
                    "row-model",
                )
                yield _row(
                    "  API key var",
                    Input(
                        c.api_key_env or "",
                        placeholder="NAME of the variable, e.g. OPENAI_API_KEY",
                        compact=True,
                        id="api-key-env",
                    ),
                    "row-api-key-env",
                )
                yield _row(
                    "Hardware",
                    Select(
                        [
                            ("profile default", DEFAULT_CHOICE),
                            *((h, h) for h in _with_names(ch.hardware, c.hardware)),
                        ],
                        value=c.hardware or DEFAULT_CHOICE,
                        allow_blank=False,
                        compact=True,
                        id="hardware",
                    ),
                    "row-hardware",
                )
                yield _row(
                    "  GPUs",
                    Input(
                        str(c.gpu_count) if c.gpu_count else "",
                        placeholder="from the hardware profile",
                        type="integer",
                        compact=True,
                        id="gpus",
                    ),
                    "row-gpus",
                )
                yield _row(
                    "Sim model",
                    Select(
                        [
                            ("simulator default", DEFAULT_CHOICE),
                            *((m, m) for m in _with_names(ch.sim_models, c.sim_model)),
                        ],
                        value=c.sim_model or DEFAULT_CHOICE,
                        allow_blank=False,
                        compact=True,
                        id="sim-model",
                    ),
                    "row-sim-model",
                )
                yield _row(
                    "SLO tier",
                    Select(
                        [*ch.tiers, ("custom S/T…", CUSTOM_TIER)],
                        value=tier_value,
                        allow_blank=False,
                        compact=True,
                        id="tier",
                    ),
                    "row-tier",
                )
                yield _row(
                    "  Custom S/T",
                    Input(
                        custom_text,
                        placeholder="100/5 = P25 ≥ 100 tok/s, P95 TTFT ≤ 5 s",
                        compact=True,
                        id="tier-custom",
                    ),
                    "row-tier-custom",
                )
                yield _row(
                    "Trajectories",
                    Input(
                        c.trajectories,
                        placeholder="trajectory file or folder",
                        suggester=SuggestFromList(ch.trajectories, case_sensitive=False),
                        compact=True,
                        id="trajectories",
                    ),
                    "row-trajectories",
                )
                yield _row(
                    "Tool delay",
                    Select(TOOL_DELAY, value=c.tool_delay, allow_blank=False, compact=True, id="tool-delay"),
                    "row-tool-delay",
                )
                yield _row(
                    "Mode",
                    Select(MODES, value=c.mode, allow_blank=False, compact=True, id="mode"),
                    "row-mode",
                )
                yield _row(
                    "  N",
                    Input(str(c.concurrency), type="integer", compact=True, id="concurrency"),
                    "row-concurrency",
                )
                yield _row(
                    "  Sweep N",
                    Input(
                        ", ".join(str(n) for n in c.sweep or []),
                        placeholder="4, 8, 16, 32",
                        compact=True,
                        id="sweep",
                    ),
                    "row-sweep",
                )
                yield _row(
                    "  Duration",
                    Input(
                        f"{c.duration_s:g}" if c.duration_s else "",
                        placeholder="seconds (empty: until the verdict settles)",
                        type="number",
                        compact=True,
                        id="duration",
                    ),
                    "row-duration",
                )
                yield _row(
                    "Rigour",
                    Select(RIGOURS, value=c.rigour, allow_blank=False, compact=True, id="rigour"),
                    "row-rigour",
                )
                tele_kind, tele_arg = _split_telemetry(c.telemetry)
                yield _row(
                    "Telemetry",
                    Select(
                        _with_value(TELEMETRY, tele_kind),
                        value=tele_kind,
                        allow_blank=False,
                        compact=True,
                        id="telemetry",
                    ),
                    "row-telemetry",
                )
                yield _row(
                    "  Source",
                    Input(
                        tele_arg,
                        placeholder="dcgm: http://node:9400/metrics · nvml: 0,1",
                        compact=True,
                        id="telemetry-arg",
                    ),
                    "row-telemetry-arg",
                )
                with Horizontal(id="setup-buttons"):
                    yield Button("Check endpoint  F2", id="check", compact=True)
                    yield Button("Start run  F5", id="start", variant="primary", compact=True)
            with Vertical(id="side"):
                yield Static(id="plan")
                yield Static(id="check-result")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "agentperf · setup"
        self._sync_enabled()
        self._show_plan()
        self._show_report()
        self.query_one("#endpoint-kind", Select).focus()

    @staticmethod
    def _initial_tier(tier: str | None, names: set[str]) -> tuple[str, str]:
        if tier is None:
            return (next(iter(sorted(names)), CUSTOM_TIER), "")
        if tier in names:
            return tier, ""
        try:
            resolved = parse_tier(tier).name
        except (TierSpecError, OSError, ValueError):
            return CUSTOM_TIER, tier
        return (resolved, "") if resolved in names else (CUSTOM_TIER, tier)

    # ---- reading the form ----
    def _value(self, wid: str) -> str:
        w = self.query_one(f"#{wid}")
        if isinstance(w, Select):
            return "" if w.is_blank() else str(w.value)
        assert isinstance(w, Input)
        return w.value.strip()

    def collect(self) -> RunConfig:
        """The RunConfig the form describes; FormError names each bad field."""
        problems: list[str] = []
        values: dict[str, Any] = self.config.model_dump()
        simulated = self._value("endpoint-kind") == "sim"
        values["endpoint"] = None if simulated else (self._value("endpoint") or None)
        if not simulated and values["endpoint"] is None:
            problems.append("URL: give the server's base URL, or choose the embedded simulator")
        values["model"] = self._value("model") or None if not simulated else values.get("model")
        values["api_key_env"] = (self._value("api-key-env") or None) if not simulated else None
        hw = self._value("hardware")
        values["hardware"] = None if hw == DEFAULT_CHOICE else hw
        sm = self._value("sim-model")
        values["sim_model"] = None if sm == DEFAULT_CHOICE else sm
        values["gpu_count"] = _int_or_none(self._value("gpus"), "GPUs", problems)
        tier = self._value("tier")
        if tier == CUSTOM_TIER:
            text = self._value("tier-custom")
            values["tier"] = text or None
            if text:
                try:
                    parse_tier(text)
                except TierSpecError as e:
                    problems.append(f"Custom S/T: {e}")
        else:
            values["tier"] = tier or None
        values["trajectories"] = self._value("trajectories") or self.config.trajectories
        values["tool_delay"] = self._value("tool-delay")
        mode = self._value("mode")
        values["mode"] = mode
        n = _int_or_none(self._value("concurrency"), "N", problems)
        if n is not None:
            values["concurrency"] = n
        if mode == "sweep":
            values["sweep"] = _int_list(self._value("sweep"), problems)
        values["duration_s"] = (
            _float_or_none(self._value("duration"), "Duration", problems) if mode == "fixed" else None
        )
        values["rigour"] = self._value("rigour")
        kind, arg = self._value("telemetry"), self._value("telemetry-arg")
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

    def _sync_enabled(self) -> None:
        simulated = self._value("endpoint-kind") == "sim"
        mode = self._value("mode")
        for rid in ("row-endpoint", "row-model", "row-api-key-env"):
            self.query_one(f"#{rid}").disabled = simulated
        self.query_one("#row-sim-model").disabled = not simulated
        self.query_one("#row-tier-custom").disabled = self._value("tier") != CUSTOM_TIER
        self.query_one("#row-sweep").disabled = mode != "sweep"
        self.query_one("#row-concurrency").disabled = mode == "sweep"
        self.query_one("#row-duration").disabled = mode != "fixed"
        label = self.query_one("#row-concurrency Label", Label)
        label.update("  Start N" if mode == "search" else "  N")
        self.query_one("#row-telemetry-arg").disabled = self._value("telemetry") not in ("dcgm", "nvml")

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
            text.append(" SIMULATED ", style=palette.SIMULATED).append(" embedded simulator\n")
        else:
            text.append(f"{cfg.endpoint}\n")
            if cfg.model:
                text.append(f"model {cfg.model}\n", style="dim")
        if cfg.mode == "search":
            text.append(f"search for the highest N, start at {cfg.concurrency}\n")
        elif cfg.mode == "fixed":
            until = f"for {cfg.duration_s:g} s" if cfg.duration_s else "until settled"
            text.append(f"{cfg.concurrency} agents {until}\n")
        else:
            text.append(f"sweep N = {', '.join(str(n) for n in cfg.sweep or [])}\n")
        if cfg.tier:
            try:
                text.append(parse_tier(cfg.tier).describe() + "\n", style="dim")
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
        for row in self.report.rows:
            mark, style = {"ok": ("✓", palette.PASS), "warn": ("!", palette.WARN)}.get(
                row.status, ("✗", palette.FAIL)
            )
            text.append(f"{mark} ", style=style).append(f"{row.what}: ", style="dim")
            text.append(row.found + "\n", style="" if row.status == "ok" else style)
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
        self._run_check(cfg)

    @work(thread=True, exit_on_error=False, exclusive=True, group="check")
    def _run_check(self, cfg: RunConfig) -> None:
        report = self.prober(cfg)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._checked, report)

    def _checked(self, report: CheckReport) -> None:
        self.report = report
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


def _with_names(names: list[str], current: str | None) -> list[str]:
    return names if current is None or current in names else [*names, current]


def _split_telemetry(spec: str) -> tuple[str, str]:
    if spec.startswith("dcgm:"):
        return "dcgm", spec[5:]
    if spec.startswith("nvml:"):
        return "nvml", spec[5:]
    return spec, ""


def _int_or_none(text: str, field: str, problems: list[str]) -> int | None:
    if not text:
        return None
    try:
        n = int(text)
    except ValueError:
        problems.append(f"{field}: {text!r} is not a whole number")
        return None
    if n < 1:
        problems.append(f"{field}: must be at least 1")
        return None
    return n


def _float_or_none(text: str, field: str, problems: list[str]) -> float | None:
    if not text:
        return None
    try:
        x = float(text)
    except ValueError:
        problems.append(f"{field}: {text!r} is not a number of seconds")
        return None
    if x <= 0:
        problems.append(f"{field}: must be more than 0 s")
        return None
    return x


def _int_list(text: str, problems: list[str]) -> list[int] | None:
    if not text:
        problems.append("Sweep N: list the concurrencies, e.g. 4, 8, 16, 32")
        return None
    out = []
    for part in text.replace(",", " ").split():
        try:
            out.append(int(part))
        except ValueError:
            problems.append(f"Sweep N: {part!r} is not a whole number")
            return None
    return out


_FORM_LABELS = {
    "endpoint": "URL",
    "model": "Model",
    "api_key_env": "API key var",
    "hardware": "Hardware",
    "sim_model": "Sim model",
    "gpu_count": "GPUs",
    "tier": "SLO tier",
    "trajectories": "Trajectories",
    "mode": "Mode",
    "concurrency": "N",
    "sweep": "Sweep N",
    "duration_s": "Duration",
    "rigour": "Rigour",
    "telemetry": "Telemetry",
}


def _field_message(err: Any) -> str:
    loc = err.get("loc", ())
    name = str(loc[0]) if loc else ""
    label = _FORM_LABELS.get(name, name or "settings")
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{label}: {msg}"
