"""`agentperf-tui trajectories`: import recorded agent traces, generate synthetic ones, summarise a set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from agentperf_tui.core.workload.importers.common import ImportReport
from agentperf_tui.core.workload.synth import PRESETS
from agentperf_tui.core.workload.synth_tree import TREE_PRESETS
from agentperf_tui.core.workload.trajectory import TextTurn, TokenTurn, Trajectory, TrajectoryError, load_set
from agentperf_tui.core.workload.tree import tree_of
from agentperf_tui.core.workload.tree_stats import TreeStats, shared_across, tree_stats

IMPORT_SOURCES = ("aa-agentperf-local", "tracelab", "weka", "mooncake", "dynamo")
_SOURCE_HELP = (
    "aa-agentperf-local: a manifest.json or its folder; tracelab: a round-trace JSONL; weka: a Weka/AgentX "
    "trace (.json, .jsonl) or a folder of them; mooncake: a Mooncake-style request JSONL; dynamo: a Dynamo "
    "request trace (.jsonl, .jsonl.gz) or a folder of segments"
)
_FORCE_HELP = "write into a directory that already has trajectories (files of the same name are replaced)"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "trajectories", help="import, generate or inspect agent trajectories (agentperf-traj/1 and /2)",
        description="Import recorded agent traces, generate synthetic ones, or summarise a trajectory set.",
    )
    tsub = p.add_subparsers(dest="traj_command", metavar="ACTION", required=True)

    imp = tsub.add_parser(
        "import", help="convert recorded traces to agentperf-traj files",
        description="Convert recorded agent traces to agentperf-traj files, one per task, session or agent "
                    "tree (sub-agents become trees, agentperf-traj/2).",
    )
    imp.add_argument("--from", dest="source", choices=IMPORT_SOURCES, required=True, help=_SOURCE_HELP)
    imp.add_argument("src", type=Path, help="what to convert")
    imp.add_argument("-o", "--out", type=Path, required=True, help="output directory")
    imp.add_argument("--block-size", type=int, default=None,
                     help="mooncake: tokens per hash block (default 512, Mooncake's published traces)")
    imp.add_argument("--force", action="store_true", help=_FORCE_HELP)
    imp.set_defaults(func=_import)

    syn = tsub.add_parser(
        "synth", help="generate token-only trajectories from the AgentPerf workload distributions",
        description="Generate seeded token-only trajectories (see docs/workload-distributions.md).",
    )
    syn.add_argument("--seed", type=int, default=1)
    syn.add_argument("--count", type=int, default=24)
    syn.add_argument("--preset", choices=(*PRESETS, *TREE_PRESETS), default="default",
                     help="default: the AgentPerf shape (5K-131K input); quick: 1K-4K input, short outputs; "
                          "agentx: agent trees (sub-agents) with the AgentX sub-agent share")
    syn.add_argument("-o", "--out", type=Path, required=True, help="output directory")
    syn.add_argument("--force", action="store_true", help=_FORCE_HELP)
    syn.set_defaults(func=_synth)

    show = tsub.add_parser("show", help="check a trajectory file or set and print its token and tree "
                                        "statistics")
    show.add_argument("path", type=Path)
    show.set_defaults(func=_show)


def _print_report(verb: str, report: ImportReport) -> None:
    print(f"{verb} {report.trajectories} trajectories ({report.turns} turns) in {report.out_dir}")
    for note in report.notes:
        print(f"  note: {note}")


def _import(args: argparse.Namespace) -> int:
    if args.block_size is not None and (args.source != "mooncake" or args.block_size < 1):
        print("agentperf-tui trajectories import: --block-size is a positive number of tokens, for "
              "--from mooncake only", file=sys.stderr)
        return 2
    try:
        if args.source == "aa-agentperf-local":
            from agentperf_tui.core.workload.importers.aa_local import import_aa_local

            report = import_aa_local(args.src, args.out, overwrite=args.force)
        elif args.source == "tracelab":
            from agentperf_tui.core.workload.importers.tracelab import import_tracelab

            report = import_tracelab(args.src, args.out, overwrite=args.force)
        elif args.source == "weka":
            from agentperf_tui.core.workload.importers.weka import import_weka

            report = import_weka(args.src, args.out, overwrite=args.force)
        elif args.source == "mooncake":
            from agentperf_tui.core.workload.importers.mooncake import MOONCAKE_BLOCK_SIZE, import_mooncake

            report = import_mooncake(args.src, args.out, overwrite=args.force,
                                     block_size=args.block_size or MOONCAKE_BLOCK_SIZE)
        else:
            from agentperf_tui.core.workload.importers.dynamo import import_dynamo

            report = import_dynamo(args.src, args.out, overwrite=args.force)
    except TrajectoryError as e:
        print(f"agentperf-tui trajectories import: {e}", file=sys.stderr)
        return 2
    _print_report("imported", report)
    return 0


def _synth(args: argparse.Namespace) -> int:
    from agentperf_tui.core.workload.synth import write_synth_set
    from agentperf_tui.core.workload.synth_tree import write_tree_set

    if args.count < 1:
        print("agentperf-tui trajectories synth: --count must be at least 1", file=sys.stderr)
        return 2
    write = write_tree_set if args.preset in TREE_PRESETS else write_synth_set
    try:
        report = write(args.out, seed=args.seed, count=args.count, preset=args.preset, overwrite=args.force)
    except TrajectoryError as e:
        print(f"agentperf-tui trajectories synth: {e}", file=sys.stderr)
        return 2
    _print_report("generated", report)
    return 0


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else 0.0


def _all_turns(t: Trajectory) -> list[TextTurn | TokenTurn]:
    return [*t.turns, *(turn for sub in t.subagents for turn in sub.turns)]


def _show(args: argparse.Namespace) -> int:
    try:
        trajs = load_set(args.path, trees=True)
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
        for node in tree_of(t).walk():
            for turn in node.turns:
                outputs.append(turn.output_tokens)
                compactions += turn.compacted
                if turn is not node.turns[-1]:
                    delays.append(turn.tool_delay_s)
                if isinstance(turn, TokenTurn):
                    prompts.append(turn.prompt_tokens)
                elif isinstance(turn, TextTurn) and turn.recorded_prompt_tokens is not None:
                    prompts.append(turn.recorded_prompt_tokens)
    turns = [len(_all_turns(t)) for t in trajs]
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
    _print_tree_stats(trajs, [tree_stats(t) for t in trajs])
    return 0


def _print_tree_stats(trajs: list[Trajectory], stats: list[TreeStats]) -> None:
    """Tree shape and block-structure figures of a set (all of them properties of the workload)."""
    trees = [s for s in stats if s.subagents]
    if trees:
        fan = [f for s in trees for f in s.fanouts]
        reqs, sub_reqs = sum(s.requests for s in stats), sum(s.subagent_requests for s in stats)
        toks, sub_toks = sum(s.tokens for s in stats), sum(s.subagent_tokens for s in stats)
        subs = sum(s.subagents for s in trees)
        detached = sum(s.detached for s in trees)
        print(f"  sub-agents: {subs} in {len(trees)} of {len(stats)} trajectories, {len(fan)} forks; "
              f"sub-agents per fork: mean {np.mean(fan):.2f}, max {max(fan)}; depth: max "
              f"{max(s.depth for s in trees)}; detached: {detached}")
        print(f"  sub-agent share: {100 * sub_reqs / reqs:.1f}% of requests, "
              f"{100 * sub_toks / max(1, toks):.1f}% of tokens (prompt + output)")
        peaks = [s.peak_structural for s in trees]
        line = (f"  peak requests in flight inside one tree: max {max(peaks)}, "
                f"median {np.median(peaks):g} (structural bound)")
        timed = [s.peak_recorded for s in trees if s.peak_recorded is not None]
        if timed:
            line += (f"; max {max(timed)}, median {np.median(timed):g} (recorded timing, {len(timed)} of "
                     f"{len(trees)} trees)")
        print(line)
    hits = [s for s in stats if s.hit_tokens is not None]
    if hits:
        recorded = sum(s.hashes_recorded for s in hits)
        sizes = sorted({s.block_size for s in hits if s.block_size is not None})
        basis = ("recorded block hashes" if recorded == len(hits) else
                 "implied by the token counts" if not recorded else
                 f"recorded block hashes in {recorded} of {len(hits)} trajectories, implied in the rest")
        ratio = sum(s.hit_tokens or 0 for s in hits) / max(1, sum(s.prompt_tokens for s in hits))
        print(f"  implied prefix-cache hit ratio: {100 * ratio:.1f}% of prompt tokens (perfect cache within "
              f"each tree; {basis}; {'/'.join(map(str, sizes))}-token blocks)")
    shared = shared_across(trajs)
    if shared is not None and shared.across:
        print(f"  blocks shared across trajectories: {shared.across} of {shared.distinct} distinct (not "
              "reproduced: every tree replay starts with its own dynamic prefix)")
