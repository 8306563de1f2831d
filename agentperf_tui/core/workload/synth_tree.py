"""Seeded synthetic trajectory trees: a main agent whose replies spawn sub-agents.

The main agent and every sub-agent are chains drawn like the linear presets (synth.py); the tree
shape (how often a reply spawns sub-agents, how many, what they return) comes from a
TreePreset. docs/workload-distributions.md says which numbers are published (and where) and
which are stated assumptions. Tree `index` of seed `seed` depends on nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .importers.common import ImportReport, prepare_out_dir
from .synth import PRESETS, LogNormal, SynthPreset, chain_turns, draw_chain, synth_header
from .trajectory import Subagent, SubagentSpec, TokenTurn, TrajectoryHeader, write_trajectory


@dataclass(frozen=True)
class TreePreset:
    name: str
    main: SynthPreset
    """Distributions of the main agent's chain."""
    sub: SynthPreset
    """Distributions of each sub-agent's chain."""
    fork_probability: float
    """Chance that a main-agent reply (any but the last) spawns sub-agents."""
    fanout_weights: tuple[float, ...]
    """Relative weight of spawning 1, 2, 3, ... sub-agents at once."""
    result_tokens: LogNormal
    """What a sub-agent returns to the main agent (added to the join turn's new input)."""
    context: str = "none"
    """Where a sub-agent's context starts: "none" (a fresh context), "parent" or "system"."""


PUBLISHED_SUBAGENT_REQUEST_SHARE = 1 - 57_000 / 99_000
"""Share of requests made by sub-agents in the SemiAnalysis AgentX corpus cc-traces-weka-062126:
about 99k requests of which about 57k top-level turns (AIPerf, "Understanding the SemiAnalysis
AgentX Benchmark", the `_256k` question). See docs/workload-distributions.md."""

TREE_PRESETS: dict[str, TreePreset] = {
    "agentx": TreePreset(
        name="agentx",
        main=PRESETS["default"],
        sub=SynthPreset(
            name="agentx-sub",
            turns=LogNormal(median=6, sigma=0.8, lo=1, hi=60),
            first_prompt=PRESETS["default"].first_prompt,
            growth_scale=PRESETS["default"].growth_scale,
            growth_sigma=PRESETS["default"].growth_sigma,
            growth_bounds=PRESETS["default"].growth_bounds,
            output=PRESETS["default"].output,
            max_context=PRESETS["default"].max_context,
        ),
        fork_probability=0.055,
        fanout_weights=(0.5, 0.3, 0.2),
        result_tokens=LogNormal(median=500, sigma=0.8, lo=50, hi=8000),
    ),
}


def tree_id(preset: TreePreset, seed: int, index: int) -> str:
    return f"synth-{preset.name}-s{seed}-{index:04d}"


def synth_tree(seed: int, index: int, preset: TreePreset
               ) -> tuple[TrajectoryHeader, list[TokenTurn], list[Subagent]]:
    """Tree `index` of the set generated from `seed`: header, main-agent turns, sub-agents."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    main = draw_chain(rng, preset.main)
    n = len(main.growth)
    weights = np.asarray(preset.fanout_weights, dtype=float)
    weights /= weights.sum()
    planned: list[tuple[int, list[tuple[list[TokenTurn], int]]]] = []
    extra: dict[int, int] = {}
    for k in range(n - 1):
        if rng.random() >= preset.fork_probability:
            continue
        width = 1 + int(rng.choice(len(weights), p=weights))
        kids: list[tuple[list[TokenTurn], int]] = []
        for _ in range(width):
            turns = chain_turns(draw_chain(rng, preset.sub), preset.sub)
            result = round(float(preset.result_tokens.sample(rng, 1)[0]))
            kids.append((turns, result))
            extra[k + 1] = extra.get(k + 1, 0) + result
        planned.append((k, kids))
    turns = chain_turns(main, preset.main, extra)
    subagents: list[Subagent] = []
    for k, kids in planned:
        if k + 1 >= len(turns):  # the main chain ended (context full) before this fork
            continue
        for j, (kid_turns, result) in enumerate(kids):
            spec = SubagentSpec(node=f"t{k}-s{j}", at_turn=k, context=preset.context,  # type: ignore[arg-type]
                                result_tokens=result, label="sub-agent")
            subagents.append(Subagent(spec=spec, turns=tuple(kid_turns)))
    every: list[TokenTurn] = [*turns, *(t for s in subagents for t in s.turns if isinstance(t, TokenTurn))]
    header = synth_header("agentperf-traj/2", tree_id(preset, seed, index), preset.name, seed, index, every)
    return header, turns, subagents


def write_tree_set(
    out_dir: Path | str, *, seed: int, count: int, preset: str | TreePreset, overwrite: bool = False
) -> ImportReport:
    """Generate `count` trees into `out_dir`, one file each."""
    p = TREE_PRESETS[preset] if isinstance(preset, str) else preset
    if count < 1:
        raise ValueError("count must be at least 1")
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    report = ImportReport(out_dir=out)
    for index in range(count):
        header, turns, subagents = synth_tree(seed, index, p)
        path = out / f"{header.id}.jsonl"
        write_trajectory(path, header, turns, subagents)
        report.files.append(path)
        report.turns += len(turns) + sum(len(s.turns) for s in subagents)
    return report
