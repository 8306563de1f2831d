"""Seeded synthetic token-only trajectories drawn from the published AgentPerf workload shape.

Every number and where it comes from is in docs/workload-distributions.md. Trajectory `index` of
seed `seed` depends on nothing else, so a set of 24 is the first 24 of a set of 1000.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .importers.common import ImportReport, prepare_out_dir
from .trajectory import TokenTurn, TrajectoryHeader, write_trajectory

GENERATOR = "agentperf-tui trajectories synth"


@dataclass(frozen=True)
class LogNormal:
    """A log-normal distribution given by its median and log-space sigma, truncated to [lo, hi].

    Truncation redraws values outside the range (no pile-up at the bounds).
    """

    median: float
    sigma: float
    lo: float
    hi: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        mu = math.log(self.median)
        out = np.exp(rng.normal(mu, self.sigma, size))
        bad = (out < self.lo) | (out > self.hi)
        while bad.any():
            out[bad] = np.exp(rng.normal(mu, self.sigma, int(bad.sum())))
            bad = (out < self.lo) | (out > self.hi)
        return out


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _median_preserving_mu(median: float, sigma: float, lo: float, hi: float) -> float:
    """The log-space mean that puts the median of the truncated distribution at `median`."""
    target = math.log(median)
    a, b = target - 2.0 * sigma, target + 2.0 * sigma
    for _ in range(80):
        mu = 0.5 * (a + b)
        plo, phi_ = _phi((math.log(lo) - mu) / sigma), _phi((math.log(hi) - mu) / sigma)
        if _phi((target - mu) / sigma) < 0.5 * (plo + phi_):
            b = mu
        else:
            a = mu
    return 0.5 * (a + b)


TOOL_DELAY_MIN_S = 0.1
TOOL_DELAY_MAX_S = 5.0
TOOL_DELAY_MEDIAN_S = 1.0
TOOL_DELAY_SIGMA = 0.8
_TOOL_MU = _median_preserving_mu(TOOL_DELAY_MEDIAN_S, TOOL_DELAY_SIGMA, TOOL_DELAY_MIN_S, TOOL_DELAY_MAX_S)


def tool_delays_baseline(rng: np.random.Generator, size: int) -> np.ndarray:
    """`size` draws of the AgentPerf baseline tool-call delay (seconds): 0.1..5 s, median 1 s."""
    out = np.exp(rng.normal(_TOOL_MU, TOOL_DELAY_SIGMA, size))
    bad = (out < TOOL_DELAY_MIN_S) | (out > TOOL_DELAY_MAX_S)
    while bad.any():
        out[bad] = np.exp(rng.normal(_TOOL_MU, TOOL_DELAY_SIGMA, int(bad.sum())))
        bad = (out < TOOL_DELAY_MIN_S) | (out > TOOL_DELAY_MAX_S)
    return out


def tool_delay_baseline(rng: np.random.Generator) -> float:
    """One draw of the AgentPerf baseline tool-call delay in seconds (0.1..5 s, median 1 s).

    The same for every system under test; the engine's "drawn from a distribution" mode.
    """
    return float(tool_delays_baseline(rng, 1)[0])


@dataclass(frozen=True)
class SynthPreset:
    """Distributions of one synthetic workload (token counts, turns, delays)."""

    name: str
    turns: LogNormal
    """Model calls per trajectory (before truncation at `max_context`)."""
    first_prompt: LogNormal
    """Prompt tokens of turn 0: system prompt, tool definitions, task."""
    growth_scale: LogNormal
    """Per-trajectory median of the new input (tool results) appended before each later turn."""
    growth_sigma: float
    """Log-space spread of the per-turn new input around the trajectory's own median."""
    growth_bounds: tuple[int, int]
    output: LogNormal
    """Output tokens per turn (tool-call turns are short, explanations and edits long)."""
    max_context: int
    """Prompt + output never exceed this: the trajectory ends at the turn that would."""
    tool_delay_scale: float = 1.0
    """Multiplies the AgentPerf baseline tool delay (1.0 = the baseline itself)."""


PRESETS: dict[str, SynthPreset] = {
    "default": SynthPreset(
        name="default",
        turns=LogNormal(median=12, sigma=1.0, lo=2, hi=200),
        first_prompt=LogNormal(median=8000, sigma=0.35, lo=5000, hi=32000),
        growth_scale=LogNormal(median=210, sigma=0.6, lo=32, hi=4000),
        growth_sigma=1.0,
        growth_bounds=(16, 32768),
        output=LogNormal(median=150, sigma=math.log(2000 / 150) / 1.6449, lo=1, hi=32768),
        max_context=131072,
    ),
    "quick": SynthPreset(
        name="quick",
        turns=LogNormal(median=5, sigma=0.3, lo=3, hi=8),
        first_prompt=LogNormal(median=1200, sigma=0.2, lo=1000, hi=2000),
        growth_scale=LogNormal(median=150, sigma=0.3, lo=64, hi=400),
        growth_sigma=0.5,
        growth_bounds=(32, 800),
        output=LogNormal(median=64, sigma=0.4, lo=32, hi=128),
        max_context=4096,
        tool_delay_scale=0.25,
    ),
}


def trajectory_id(preset: SynthPreset, seed: int, index: int) -> str:
    return f"synth-{preset.name}-s{seed}-{index:04d}"


@dataclass(frozen=True)
class ChainDraw:
    """The random draws of one linear chain of turns (a trajectory, or one sub-agent of a tree)."""

    first: int
    growth: np.ndarray
    outputs: np.ndarray
    delays: np.ndarray


def draw_chain(rng: np.random.Generator, preset: SynthPreset) -> ChainDraw:
    n = round(float(preset.turns.sample(rng, 1)[0]))
    first = round(float(preset.first_prompt.sample(rng, 1)[0]))
    scale = float(preset.growth_scale.sample(rng, 1)[0])
    growth = LogNormal(scale, preset.growth_sigma, *preset.growth_bounds).sample(rng, n)
    outputs = np.rint(preset.output.sample(rng, n)).astype(np.int64)
    delays = tool_delays_baseline(rng, n) * preset.tool_delay_scale
    return ChainDraw(first, growth, outputs, delays)


def chain_turns(draw: ChainDraw, preset: SynthPreset, extra_input: dict[int, int] | None = None
                ) -> list[TokenTurn]:
    """The turns of a drawn chain: each prompt is the whole previous context plus new input.

    `extra_input` adds tokens to the new input of given turns (what joined sub-agents returned).
    The chain ends at the turn that would exceed the preset's context; the last turn has no delay.
    """
    extra = extra_input or {}
    turns: list[TokenTurn] = []
    prompt, prev_context = draw.first, 0
    for k in range(len(draw.growth)):
        if k:
            prompt = prev_context + round(float(draw.growth[k])) + extra.get(k, 0)
        out = int(max(draw.outputs[k], 1))
        if prompt + out > preset.max_context:
            break
        turns.append(
            TokenTurn(
                i=k,
                new_input_tokens=prompt - prev_context,
                cached_prefix_tokens=prev_context,
                output_tokens=out,
                tool_delay_s=round(float(draw.delays[k]), 3),
            )
        )
        prev_context = prompt + out
    if not turns:  # only when turn 0 alone does not fit: keep it, shortened to fit
        out = min(int(max(draw.outputs[0], 1)), max(1, preset.max_context - draw.first))
        turns.append(TokenTurn(i=0, new_input_tokens=min(draw.first, preset.max_context - out),
                               output_tokens=out))
    turns[-1] = turns[-1].model_copy(update={"tool_delay_s": 0.0})
    return turns


def synth_trajectory(seed: int, index: int, preset: SynthPreset) -> tuple[TrajectoryHeader, list[TokenTurn]]:
    """Trajectory `index` of the set generated from `seed`."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    turns = chain_turns(draw_chain(rng, preset), preset)
    header = synth_header("agentperf-traj/1", trajectory_id(preset, seed, index),
                          preset.name, seed, index, turns)
    return header, turns


def synth_header(
    fmt: Literal["agentperf-traj/1", "agentperf-traj/2"], traj_id: str,
    preset_name: str, seed: int, index: int, turns: Iterable[TokenTurn],
) -> TrajectoryHeader:
    """The header of a generated trajectory: where it came from and the context it needs."""
    return TrajectoryHeader(
        format=fmt,
        id=traj_id,
        kind="tokens",
        source={
            "generator": GENERATOR,
            "preset": preset_name,
            "seed": seed,
            "index": index,
            "distributions": "docs/workload-distributions.md",
        },
        required_context_tokens=max(t.prompt_tokens + t.output_tokens for t in turns),
    )


def synth_set(
    seed: int, count: int, preset: SynthPreset
) -> Iterator[tuple[TrajectoryHeader, list[TokenTurn]]]:
    for index in range(count):
        yield synth_trajectory(seed, index, preset)


def write_synth_set(
    out_dir: Path | str, *, seed: int, count: int, preset: str | SynthPreset, overwrite: bool = False
) -> ImportReport:
    """Generate `count` trajectories into `out_dir`, one file each."""
    p = PRESETS[preset] if isinstance(preset, str) else preset
    if count < 1:
        raise ValueError("count must be at least 1")
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    report = ImportReport(out_dir=out)
    for header, turns in synth_set(seed, count, p):
        path = out / f"{header.id}.jsonl"
        write_trajectory(path, header, turns)
        report.files.append(path)
        report.turns += len(turns)
    return report
