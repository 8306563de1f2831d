"""`agentperf-tui search`: the concurrency search for the highest N that meets an SLO tier."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agentperf_tui.cli.common import ArgError, add_field, add_run_args, config_from_args, launch


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "search",
        help="find the highest number of concurrent agents that meets an SLO tier",
        description="Exponential ramp then bisection (or a sweep) to the highest N meeting the tier.",
    )
    p.add_argument("--headless", action="store_true", help="no console: progress on stderr, JSON on stdout")
    add_field(p, "concurrency", flags=("-n", "--start"), default=4, help="starting guess for N")
    add_field(p, "max_concurrency", default=4096)
    add_field(p, "budget_s")
    add_field(p, "sweep")
    p.add_argument("--progress-every", type=float, default=5.0)
    add_run_args(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        cfg = config_from_args(
            args,
            mode="sweep" if args.sweep else "search",
            concurrency=args.concurrency,
            max_concurrency=args.max_concurrency,
            budget_s=args.budget_s,
            sweep=args.sweep,
        )
    except ArgError as e:
        print(f"agentperf-tui search: {e}", file=sys.stderr)
        return 2
    return launch(cfg, args)
