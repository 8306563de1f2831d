"""`agentperf-tui trajectories`: import recorded agent traces, generate synthetic ones, summarise a set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from agentperf_tui.core.workload.importers.common import ImportReport
from agentperf_tui.core.workload.trajectory import TextTurn, TokenTurn, TrajectoryError, load_set

IMPORT_SOURCES = ("aa-agentperf-local", "tracelab")
_FORCE_HELP = "write into a directory that already has trajectories (files of the same name are replaced)"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "trajectories", help="import, generate or inspect agent trajectories (agentperf-traj/1)",
        description="Import recorded agent traces, generate synthetic ones, or summarise a trajectory set.",
    )
    tsub = p.add_subparsers(dest="traj_command", metavar="ACTION", required=True)

    imp = tsub.add_parser(
        "import", help="convert recorded traces to agentperf-traj/1",
        description="Convert recorded agent traces to agentperf-traj/1 files, one per task or session.",
    )
    imp.add_argument("--from", dest="source", choices=IMPORT_SOURCES, required=True,
                     help="aa-agentperf-local: a manifest.json or its folder; tracelab: a round-trace JSONL")
    imp.add_argument("src", type=Path, help="what to convert")
    imp.add_argument("-o", "--out", type=Path, required=True, help="output directory")
    imp.add_argument("--force", action="store_true", help=_FORCE_HELP)
    imp.set_defaults(func=_import)

    syn = tsub.add_parser(
        "synth", help="generate token-only trajectories from the AgentPerf workload distributions",
        description="Generate seeded token-only trajectories (see docs/workload-distributions.md).",
    )
    syn.add_argument("--seed", type=int, default=1)
    syn.add_argument("--count", type=int, default=24)
    syn.add_argument("--preset", choices=("default", "quick"), default="default",
                     help="default: the AgentPerf shape (5K-131K input); quick: 1K-4K input, short outputs")
    syn.add_argument("-o", "--out", type=Path, required=True, help="output directory")
    syn.add_argument("--force", action="store_true", help=_FORCE_HELP)
    syn.set_defaults(func=_synth)

    show = tsub.add_parser("show", help="check a trajectory file or set and print its token statistics")
    show.add_argument("path", type=Path)
    show.set_defaults(func=_show)


def _print_report(verb: str, report: ImportReport) -> None:
    print(f"{verb} {report.trajectories} trajectories ({report.turns} turns) in {report.out_dir}")
    for note in report.notes:
        print(f"  note: {note}")


def _import(args: argparse.Namespace) -> int:
    try:
        if args.source == "aa-agentperf-local":
            from agentperf_tui.core.workload.importers.aa_local import import_aa_local

            report = import_aa_local(args.src, args.out, overwrite=args.force)
        else:
            from agentperf_tui.core.workload.importers.tracelab import import_tracelab

            report = import_tracelab(args.src, args.out, overwrite=args.force)
    except TrajectoryError as e:
        print(f"agentperf-tui trajectories import: {e}", file=sys.stderr)
        return 2
    _print_report("imported", report)
    return 0


def _synth(args: argparse.Namespace) -> int:
    from agentperf_tui.core.workload.synth import write_synth_set

    if args.count < 1:
        print("agentperf-tui trajectories synth: --count must be at least 1", file=sys.stderr)
        return 2
    try:
        report = write_synth_set(args.out, seed=args.seed, count=args.count, preset=args.preset,
                                 overwrite=args.force)
    except TrajectoryError as e:
        print(f"agentperf-tui trajectories synth: {e}", file=sys.stderr)
        return 2
    _print_report("generated", report)
    return 0


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else 0.0


def _show(args: argparse.Namespace) -> int:
    try:
        trajs = load_set(args.path)
    except TrajectoryError as e:
        print(f"agentperf-tui trajectories show: {e}", file=sys.stderr)
        return 2
    prompts: list[float] = []
    outputs: list[float] = []
    delays: list[float] = []
    kinds: dict[str, int] = {}
    compactions = 0
    for t in trajs:
        kinds[t.kind] = kinds.get(t.kind, 0) + 1
        for turn in t.turns:
            outputs.append(turn.output_tokens)
            compactions += turn.compacted
            if turn is not t.turns[-1]:
                delays.append(turn.tool_delay_s)
            if isinstance(turn, TokenTurn):
                prompts.append(turn.prompt_tokens)
            elif isinstance(turn, TextTurn) and turn.recorded_prompt_tokens is not None:
                prompts.append(turn.recorded_prompt_tokens)
    turns = [len(t.turns) for t in trajs]
    kind_text = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(f"{args.path}: {len(trajs)} trajectories ({kind_text}), "
          f"{sum(turns)} turns (per trajectory: median {int(np.median(turns))}, max {max(turns)})")
    if prompts:
        print(f"  prompt tokens per request: mean {np.mean(prompts):,.0f}, median {_pct(prompts, 50):,.0f}, "
              f"min {min(prompts):,.0f}, max {max(prompts):,.0f}")
    print(f"  output tokens per request: median {_pct(outputs, 50):,.0f}, P95 {_pct(outputs, 95):,.0f}")
    if delays:
        print(f"  tool delay: median {_pct(delays, 50):.2f} s, P95 {_pct(delays, 95):.2f} s")
    if compactions:
        print(f"  compactions: {compactions}")
    return 0
