"""`agentperf-tui console` (also what a bare `agentperf-tui` opens): the interactive console.

Flags prefill the setup screen; nothing runs until the operator starts it (or `--start`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agentperf_tui.cli.common import ArgError, add_field, add_run_args, config_from_args
from agentperf_tui.core.engine.config import RunConfig


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "console",
        help="the interactive console (default): set up, watch and control a run, browse stored runs",
        description="Open the console. Flags prefill the setup screen.",
    )
    add_field(p, "mode", flags=("--mode",), default="search")
    add_field(p, "concurrency", flags=("-n", "--concurrency", "--start"),
              help="concurrent agents (N) of a fixed run; a search's starting guess (as `search --start`)")
    for name in ("max_concurrency", "budget_s", "sweep", "duration_s"):
        add_field(p, name)
    p.add_argument(
        "--go", action="store_true", help="start the run at once instead of showing setup first"
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
        "budget_s": args.budget_s,
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
    if args.go and cfg.mode in ("search", "sweep") and cfg.tier is None:
        print("agentperf-tui console: --go with a search or sweep needs --tier", file=sys.stderr)
        return 2
    return open_console(cfg, autostart=args.go)
