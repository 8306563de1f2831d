"""`agentperf-tui run`: N agents at a fixed concurrency (headless), final JSON summary."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agentperf_tui.cli.common import ArgError, add_field, add_run_args, config_from_args, launch


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="replay trajectories at a fixed number of concurrent agents",
        description="Replay trajectories at N concurrent agents; report TTFT and output speed percentiles.",
    )
    p.add_argument("--headless", action="store_true", help="no console: progress on stderr, JSON on stdout")
    add_field(p, "concurrency", default=4, help="concurrent agents (N)")
    add_field(p, "duration_s", default=60.0, help="seconds to run")
    p.add_argument("--progress-every", type=float, default=5.0, help="seconds between progress lines")
    add_run_args(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        cfg = config_from_args(args, mode="fixed", concurrency=args.concurrency, duration_s=args.duration_s)
    except ArgError as e:
        print(f"agentperf-tui run: {e}", file=sys.stderr)
        return 2
    return launch(cfg, args)
