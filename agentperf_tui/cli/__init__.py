"""Command line: `agentperf-tui [SUBCOMMAND] ...`; no subcommand opens the console."""

from __future__ import annotations

import argparse
import importlib
import os
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
    parser.set_defaults(_subcommands=sub)
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
    args, extra = parser.parse_known_args(args_list)
    if extra:
        # the subcommand's own usage, not the top-level one
        owner = _deepest_parser(args) or parser
        owner.error(f"unrecognized arguments: {' '.join(extra)}")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except BrokenPipeError:
        # the reader went away (`runs show X | head`): nothing left to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _deepest_parser(args: argparse.Namespace) -> argparse.ArgumentParser | None:
    """The parser of the (sub)subcommand that was chosen."""
    owner: argparse.ArgumentParser | None = None
    subs = getattr(args, "_subcommands", None)
    for dest in ("command", "runs_command", "traj_command"):
        name = getattr(args, dest, None)
        if subs is None or name is None or name not in subs.choices:
            break
        owner = subs.choices[name]
        subs = next((a for a in owner._actions if isinstance(a, argparse._SubParsersAction)), None)
    return owner
