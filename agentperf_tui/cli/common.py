"""Run flags shared by `run`, `search` and `console`, and the RunConfig they build."""

from __future__ import annotations

import argparse
from typing import Any, get_args

from pydantic import ValidationError

from agentperf_tui.core.client.stream import DEFAULT_BACKEND, Backend
from agentperf_tui.core.engine.config import RunConfig


def concurrency_list(s: str) -> list[int]:
    """argparse type for `--sweep 4,8,16`: a comma-separated list of concurrencies >= 1."""
    try:
        out = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of integers, got {s!r}") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError("every concurrency in the list must be >= 1")
    return out


def add_run_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("endpoint")
    g.add_argument(
        "--endpoint", help="base URL of an OpenAI-compatible server (default: the embedded simulator)"
    )
    g.add_argument("--model", help="served model name (default: the first one the endpoint lists)")
    g.add_argument(
        "--api-key-env", metavar="VAR", help="NAME of the environment variable holding the API key"
    )
    g.add_argument("--api", choices=["chat", "completions"], default="chat")
    g.add_argument(
        "--client",
        choices=get_args(Backend),
        default=DEFAULT_BACKEND,
        help=f"HTTP transport of the stream loop (default: {DEFAULT_BACKEND}, the leanest)",
    )
    g.add_argument(
        "--hardware", help="hardware profile (simulator deployment; GPU count for per-GPU figures)"
    )
    g.add_argument("--sim-model", help="model profile for the embedded simulator")
    g.add_argument(
        "--gpus", type=int, dest="gpu_count", help="GPUs behind the endpoint (default: from --hardware)"
    )
    w = p.add_argument_group("workload")
    w.add_argument("--trajectories", default="trajectories/quick", help="trajectory file or directory")
    w.add_argument(
        "--tool-delay",
        choices=["recorded", "baseline"],
        default="recorded",
        help="tool-call delay: as recorded, or drawn from the AgentPerf baseline (0.1-5 s, median ~1 s)",
    )
    w.add_argument(
        "--think-time", action="store_true", help="replay recorded human think time before user turns"
    )
    w.add_argument(
        "--no-exact-length",
        dest="exact_length",
        action="store_false",
        help="do not ask for exact output lengths (ignore_eos/min_tokens); the run is marked not comparable",
    )
    w.add_argument("--seed", type=int, default=0)
    o = p.add_argument_group("measurement")
    o.add_argument(
        "--tier", help="SLO tier: a name from profiles/slo or S/T (P25 speed >= S tok/s, P95 TTFT <= T s)"
    )
    o.add_argument("--rigour", choices=["fast", "strict"], default="fast")
    o.add_argument(
        "--warmup", type=float, dest="warmup_s", help="seconds a level holds before requests count"
    )
    o.add_argument(
        "--fast-min",
        type=float,
        dest="fast_min_s",
        help="fast mode: shortest measured window of a level, in seconds (default 60)",
    )
    o.add_argument("--telemetry", default="auto", help="auto | none | sim | nvml[:0,1] | dcgm:URL[,URL]")
    o.add_argument("--no-server-metrics", dest="scrape_server_metrics", action="store_false")
    o.add_argument(
        "--store", help="run store (SQLite) path (default: ~/.local/share/agentperf-tui/runs.sqlite3)"
    )


_FIELDS = (
    "endpoint",
    "model",
    "api_key_env",
    "api",
    "client",
    "hardware",
    "sim_model",
    "gpu_count",
    "trajectories",
    "tool_delay",
    "think_time",
    "exact_length",
    "seed",
    "tier",
    "rigour",
    "warmup_s",
    "fast_min_s",
    "telemetry",
    "scrape_server_metrics",
    "store",
)


class ArgError(ValueError):
    pass


def config_from_args(args: argparse.Namespace, **extra: Any) -> RunConfig:
    values = {k: getattr(args, k) for k in _FIELDS if getattr(args, k, None) is not None}
    values.update({k: v for k, v in extra.items() if v is not None})
    try:
        return RunConfig(**values)
    except ValidationError as e:
        msgs = []
        for err in e.errors():
            loc = ".".join(str(x) for x in err.get("loc", ())) or "config"
            msgs.append(f"--{loc.replace('_', '-')}: {err.get('msg')}")
        raise ArgError("; ".join(msgs)) from None


def launch(cfg: RunConfig, args: argparse.Namespace) -> int:
    """Run `cfg` headless (`--headless`: progress on stderr, JSON on stdout) or in the console."""
    if not args.headless:
        from agentperf_tui.cli.console import open_console

        return open_console(cfg, autostart=True)
    from agentperf_tui.cli.headless import run_headless

    return run_headless(cfg, progress_every_s=args.progress_every)
