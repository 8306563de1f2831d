"""The settings of a run as the operator meets them: one table for the command-line flags and the
setup screen's rows. Each entry names its RunConfig field; adding a setting is one entry here
(and the field in RunConfig)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from agentperf_tui.core import defaults
from agentperf_tui.core.engine.config import RunConfig

Group = Literal["endpoint", "workload", "measurement", "run"]
Action = Literal["store", "store_true", "store_false"]


def concurrency_list(text: str) -> list[int]:
    """`4,8,16` or `4 8 16`: a list of concurrencies >= 1 (ValueError saying what is wrong)."""
    parts = text.replace(",", " ").split()
    if not parts:
        raise ValueError("list the concurrencies, e.g. 4,8,16,32")
    out = []
    for part in parts:
        try:
            n = int(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a whole number") from None
        if n < 1:
            raise ValueError("every concurrency in the list must be >= 1")
        out.append(n)
    return out


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """`90`, `90s`, `10m`, `1.5h`: a positive duration in seconds (ValueError saying what is wrong)."""
    t = text.strip().lower()
    unit = _UNITS.get(t[-1:])
    number = t[:-1] if unit is not None else t
    try:
        value = float(number) * (unit or 1.0)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a duration: give seconds, or a number with s, m or h (10m)"
        ) from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{text!r}: a duration must be positive and finite")
    return value


@dataclass(frozen=True, slots=True)
class ConfigField:
    name: str
    """The RunConfig field."""
    flags: tuple[str, ...]
    """Command-line flags, the long one first (empty: not a flag of its own)."""
    label: str
    """The setup screen's row label."""
    help: str
    group: Group
    parse: Callable[[str], Any] | None = None
    """How a typed value becomes the field's value (None: text)."""
    action: Action = "store"
    metavar: str | None = None
    placeholder: str = ""

    @property
    def shown_metavar(self) -> str:
        return self.metavar or self.flag.lstrip("-").upper().replace("-", "_")

    @property
    def flag(self) -> str:
        return self.flags[0] if self.flags else self.name

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The values a Literal field allows, from RunConfig itself."""
        annotation = RunConfig.model_fields[self.name].annotation
        values = get_args(annotation)
        return tuple(values) if values and all(isinstance(v, str) for v in values) else None

    @property
    def widget_id(self) -> str:
        return self.name.replace("_", "-")


FIELDS: tuple[ConfigField, ...] = (
    # endpoint
    ConfigField("endpoint", ("--endpoint",), "URL",
                "base URL of an OpenAI-compatible server (default: the embedded simulator)", "endpoint",
                placeholder="http://host:8000"),
    ConfigField("model", ("--model",), "Model",
                "served model name (default: the first one the endpoint lists)", "endpoint",
                placeholder="first model the server lists"),
    ConfigField("api_key_env", ("--api-key-env",), "API key var",
                "NAME of the environment variable holding the API key", "endpoint", metavar="VAR",
                placeholder="NAME of the variable, e.g. OPENAI_API_KEY"),
    ConfigField("allow_insecure_key", ("--allow-insecure-key",), "Insecure key",
                "send the API key over plain http to another machine (a trusted network only)", "endpoint",
                action="store_true"),
    ConfigField("api", ("--api",), "API", "OpenAI API to replay through", "endpoint"),
    ConfigField("client", ("--client",), "Client",
                "HTTP transport of the stream loop (default: httptools, the leanest)", "endpoint"),
    ConfigField("hardware", ("--hardware",), "Hardware",
                "hardware profile (simulator deployment; GPU count for per-GPU figures); default for the "
                f"embedded simulator: {defaults.SIM_HARDWARE}", "endpoint"),
    ConfigField("sim_model", ("--sim-model",), "Sim model",
                f"model profile for the embedded simulator (default {defaults.SIM_MODEL})", "endpoint"),
    ConfigField("gpu_count", ("--gpus",), "GPUs", "GPUs behind the endpoint (default: from --hardware)",
                "endpoint", parse=int, placeholder="from the hardware profile"),
    ConfigField("workers", ("--workers",), "Workers",
                "load worker processes on this machine (default: one per ~1,000 agents, at most "
                "cores - 1; 1: the agents run in the engine's own process)", "endpoint", parse=int,
                placeholder="from the agent count and the cores"),
    ConfigField("ray", ("--ray",), "Ray",
                "run the load workers as Ray actors on the nodes of this Ray cluster (ADDRESS or auto); "
                "needs `pip install agentperf-tui[ray]`", "endpoint", metavar="ADDRESS"),
    ConfigField("workers_per_node", ("--workers-per-node",), "Per node",
                "with --ray: load workers per Ray node", "endpoint", parse=int),
    # workload
    ConfigField("trajectories", ("--trajectories",), "Trajectories", "trajectory file or directory",
                "workload", placeholder="trajectory file or folder"),
    ConfigField("tool_delay", ("--tool-delay",), "Tool delay",
                "tool-call delay: as recorded, or drawn from the AgentPerf baseline (0.1-5 s, median ~1 s)",
                "workload"),
    ConfigField("think_time", ("--think-time",), "Think time",
                "replay recorded human think time before user turns", "workload", action="store_true"),
    ConfigField("exact_length", ("--no-exact-length",), "Exact length",
                "do not ask for exact output lengths (ignore_eos/min_tokens); the run is marked "
                "not comparable", "workload", action="store_false"),
    ConfigField("seed", ("--seed",), "Seed", "seed of the workload's choices", "workload", parse=int),
    # measurement
    ConfigField("tier", ("--tier",), "SLO tier",
                "SLO tier: a name from profiles/slo or S/T (P25 speed >= S tok/s, P95 TTFT <= T s); a "
                "family (gpt-oss-120b@rev1: every tier of it, judged on the same levels) or a list "
                f"(30/10,100/5); {defaults.TIER} fits the embedded simulator's default deployment",
                "measurement"),
    ConfigField("rigour", ("--rigour",), "Rigour", "fast: stop a level when settled; strict: published rules",
                "measurement"),
    ConfigField("warmup_s", ("--warmup",), "Warm-up", "seconds a level holds before requests count",
                "measurement", parse=float),
    ConfigField("fast_min_s", ("--fast-min",), "Fast minimum",
                "fast mode: shortest measured window of a level, in seconds (default 60)", "measurement",
                parse=float),
    ConfigField("request_timeout_s", ("--request-timeout",), "Timeout",
                "seconds a request may take in all before it ends as failed (timeout)", "measurement",
                parse=float, metavar="SECONDS", placeholder="s a request may take (600)"),
    ConfigField("stall_timeout_s", ("--stall-timeout",), "Stall",
                "seconds without a byte before a request ends as failed (stalled); default from the tier: "
                "3 x its TTFT limit (at least 30 s) before the first output, its TTFT limit (at least 5 s) "
                "between outputs", "measurement", parse=float, metavar="SECONDS",
                placeholder="s without a byte (from the tier)"),
    ConfigField("telemetry", ("--telemetry",), "Telemetry",
                "GPU power source: auto | none | sim | nvml[:0,1] | dcgm:URL[,URL] (a head node without "
                "GPUs: dcgm:http://NODE:9400/metrics)", "measurement"),
    ConfigField("scrape_server_metrics", ("--no-server-metrics",), "Server metrics",
                "do not scrape the server's /metrics", "measurement", action="store_false"),
    ConfigField("store", ("--store",), "Store",
                "run store (SQLite) path (default: ~/.local/share/agentperf-tui/runs.sqlite3)",
                "measurement", metavar="PATH"),
    # the run's shape: flags of their own per subcommand
    ConfigField("mode", (), "Mode", "search, fixed N or a sweep", "run"),
    ConfigField("concurrency", ("-n", "--concurrency"), "N",
                "concurrent agents (N); for a search, the starting guess", "run", parse=int, metavar="N"),
    ConfigField("max_concurrency", ("--max",), "Max N", "largest N a search may try", "run", parse=int),
    ConfigField("budget_s", ("--budget",), "Budget",
                "time budget of a search (90s, 10m, 1h): when it runs out the search ends with the bracket "
                "it has, and says so", "run", parse=duration_seconds, metavar="TIME",
                placeholder="e.g. 10m (empty: no limit)"),
    ConfigField("sweep", ("--sweep",), "Sweep N", "run these N instead of searching, e.g. 4,8,16,32", "run",
                parse=concurrency_list, placeholder="4, 8, 16, 32"),
    ConfigField("duration_s", ("--duration",), "Duration", "seconds a fixed run lasts", "run", parse=float,
                placeholder="seconds (empty: until the verdict settles)"),
)  # fmt: skip

BY_NAME: dict[str, ConfigField] = {f.name: f for f in FIELDS}


def field(name: str) -> ConfigField:
    return BY_NAME[name]


def flag_for(name: str) -> str:
    """The flag an operator types for a RunConfig field (`duration_s` -> `--duration`)."""
    f = BY_NAME.get(name)
    return f.flag if f is not None and f.flags else "--" + name.replace("_", "-")
