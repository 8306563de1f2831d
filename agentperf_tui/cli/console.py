"""`agentperf-tui console` (also what a bare `agentperf-tui` opens): the interactive console.

Flags prefill the setup screen; nothing runs until the operator starts it (or `--start`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agentperf_tui.cli.common import ArgError, add_run_args, concurrency_list, config_from_args
from agentperf_tui.core.engine.config import RunConfig


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "console",
        help="the interactive console (default): set up, watch and control a run, browse stored runs",
        description="Open the console. Flags prefill the setup screen.",
    )
    p.add_argument("--mode", choices=["search", "fixed", "sweep"], default="search")
    p.add_argument("-n", "--concurrency", type=int, help="N for a fixed run; the starting guess for a search")
    p.add_argument("--max", type=int, dest="max_concurrency", help="largest N a search may try")
    p.add_argument("--sweep", type=concurrency_list, help="concurrencies for a sweep, e.g. 4,8,16,32")
    p.add_argument("--duration", type=float, dest="duration_s", help="seconds for a fixed run")
    p.add_argument(
        "--start", action="store_true", help="start the run at once instead of showing setup first"
    )
    add_run_args(p)
    p.set_defaults(func=main)


def prefill(args: argparse.Namespace) -> RunConfig:
    """The setup screen's starting values. A search or sweep without a tier is still a valid
    prefill (the form offers the tiers); everything else is validated now."""
    mode = "sweep" if args.sweep and args.mode == "search" else args.mode
    extra = {
        "concurrency": args.concurrency,
        "max_concurrency": args.max_concurrency,
        "sweep": args.sweep,
        "duration_s": args.duration_s,
    }
    if getattr(args, "tier", None) or mode == "fixed":
        return config_from_args(args, mode=mode, **extra)
    cfg = config_from_args(args, mode="fixed", **{**extra, "sweep": None})
    return cfg.model_copy(update={"mode": mode, "sweep": args.sweep})


def open_console(config: RunConfig, *, autostart: bool = False) -> int:
    from agentperf_tui.tui.app import make_app

    app = make_app(config, autostart=autostart)
    app.run()
    return int(app.return_code or 0)


def main(args: argparse.Namespace) -> int:
    try:
        cfg = prefill(args)
    except ArgError as e:
        print(f"agentperf-tui console: {e}", file=sys.stderr)
        return 2
    if args.start and cfg.mode in ("search", "sweep") and cfg.tier is None:
        print("agentperf-tui console: --start with a search or sweep needs --tier", file=sys.stderr)
        return 2
    return open_console(cfg, autostart=args.start)
