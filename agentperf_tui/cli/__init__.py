"""Command line: `agentperf-tui [SUBCOMMAND] ...`; no subcommand opens the console."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
SUBCOMMANDS: tuple[str, ...] = ("console", "run", "search", "plan", "sim", "trajectories", "runs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentperf-tui",
        description="How many concurrent coding agents can this deployment serve within an SLO tier?",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"agentperf_tui.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"agentperf_tui.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list = ["console", *args_list]
    args = parser.parse_args(args_list)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args) or 0)
