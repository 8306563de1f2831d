"""Side-by-side comparison of two runs: headline figures at N* (or a fixed run's N), per tier when
either run has several (tiers matched by name, rows named with the tier), and the config keys that
differ.

A figure marks one side better only when the difference matters: more than MATERIAL (5%) of the
larger value, or more than MATERIAL_RATE (one percentage point) for an error rate. Smaller
differences are within what two runs of the same deployment differ by, and are left unmarked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agentperf_tui.core.store.access import tier_label, tier_names
from agentperf_tui.core.store.models import Difference, RunData
from agentperf_tui.core.summary.headline import Headline, headline


@dataclass(frozen=True, slots=True)
class RunFigures:
    """The headline figures of one run (each None where the run cannot tell) and its request
    counts over the whole run."""

    head: Headline
    error_rate: float | None
    """Failed / all requests of the whole run."""
    requests: int
    output_tok_s: float | None = None
    """Output tokens per second over the whole run."""


MATERIAL = 0.05
"""Relative difference from which a figure marks one run better."""
MATERIAL_RATE = 0.01
"""Absolute difference of an error rate (a fraction) from which one run is marked better."""
VOLATILE_CONFIG = ("endpoint",)
"""Config keys that differ between two runs of the embedded simulator only by its random port."""

Figure = Callable[[RunFigures], float | None]
# (field label, the figure, which direction is better, whether it belongs to one tier's answer)
_FIGURES: tuple[tuple[str, Figure, Literal["higher", "lower"] | None, bool], ...] = (
    ("N*", lambda f: f.head.n_star, "higher", True),
    ("GPUs", lambda f: f.head.gpus, None, False),
    ("agents/GPU", lambda f: f.head.agents_per_gpu, "higher", True),
    ("agents/MW", lambda f: f.head.agents_per_mw, "higher", True),
    ("level N (N*, or a fixed run's N)", lambda f: f.head.level_n, None, True),
    ("mean GPU power at level N (W)", lambda f: f.head.mean_power_w, None, True),
    ("P25 speed at level N (tok/s)", lambda f: f.head.speed_p25, "higher", True),
    ("P95 TTFT at level N (s)", lambda f: f.head.ttft_p95, "lower", True),
    ("error rate at level N", lambda f: f.head.error_rate_at_n, "lower", True),
    ("output tok/s at level N", lambda f: f.head.level.output_tok_s if f.head.level else None, "higher",
     True),
    ("prefix cache hits at level N", lambda f: f.head.level.cache_hit_ratio if f.head.level else None, None,
     True),
    ("error rate (whole run)", lambda f: f.error_rate, "lower", False),
    ("output tok/s (whole run)", lambda f: f.output_tok_s, None, False),
    ("requests", lambda f: f.requests, None, False),
)


def run_figures(run: RunData, tier_index: int = 0) -> RunFigures:
    if len(run.requests):
        total, failed = len(run.requests), int((~run.requests.ok).sum())
    else:
        total, failed = run.summary.requests.ok + run.summary.requests.failed, run.summary.requests.failed
    rate = failed / total if total else None
    return RunFigures(
        head=headline(run.summary, tier_index),
        error_rate=rate,
        requests=total,
        output_tok_s=run.summary.whole_run.output_tok_s,
    )


def _tier_figures(run: RunData) -> dict[str, RunFigures]:
    """The run's figures for each of its tiers, by tier name."""
    return {
        r.tier.name: run_figures(run, k) for k, r in enumerate(run.summary.results) if r.tier is not None
    }


def comparability(a: RunData, b: RunData) -> list[str]:
    """Why the two runs' figures cannot be compared as they stand (empty: they can)."""
    out: list[str] = []
    if a.info.simulated != b.info.simulated:
        sim, real = ("A", "B") if a.info.simulated else ("B", "A")
        out.append(f"{sim} is SIMULATED and {real} a real server: a model's figures are not measurements")
    for side, run in (("A", a), ("B", b)):
        if not run.summary.comparable:
            why = "; ".join(run.summary.comparability) or "output lengths were not exact"
            out.append(f"{side} is not comparable: {why}")
    na, nb = tier_names(a.summary, a.config), tier_names(b.summary, b.config)
    if na and nb and not set(na) & set(nb):
        ta, tb = tier_label(a.summary, a.config), tier_label(b.summary, b.config)
        out.append(f"judged against different tiers ({ta} and {tb}): N* means a different thing")
    return out


def compare_runs(a: RunData, b: RunData) -> list[Difference]:
    """Context rows (run, model, endpoint, simulated, mode, tier, status, power basis), every
    headline figure, then one row per config key (dotted path) whose value differs. When either
    run has several tiers, each tier's figures have rows of their own, named with the tier."""
    fa, fb = run_figures(a), run_figures(b)
    out = [
        Difference("run", a.info.id, b.info.id, None, None),
        Difference("model", a.info.model, b.info.model, None, None),
        Difference("endpoint", a.info.endpoint_label, b.info.endpoint_label, None, None),
        Difference("simulated", a.info.simulated, b.info.simulated, None, None),
        Difference("mode", a.info.mode, b.info.mode, None, None),
        Difference("tier", tier_label(a.summary, a.config), tier_label(b.summary, b.config), None, None),
        Difference("status", a.info.status, b.info.status, None, None),
    ]
    if len(a.summary.results) <= 1 and len(b.summary.results) <= 1:
        out.append(Difference("power basis", fa.head.power_basis, fb.head.power_basis, None, None))
        for label, figure, direction, _ in _FIGURES:
            out.append(_numeric(label, figure(fa), figure(fb), direction))
    else:
        for label, figure, direction, per_tier in _FIGURES:
            if not per_tier:
                out.append(_numeric(label, figure(fa), figure(fb), direction))
        ta, tb = _tier_figures(a), _tier_figures(b)
        none = RunFigures(Headline(None, None), None, 0)
        for name in [*ta, *(n for n in tb if n not in ta)]:
            xa, xb = ta.get(name, none), tb.get(name, none)
            basis = (xa.head.power_basis, xb.head.power_basis)
            out.append(Difference(f"power basis @ {name}", *basis, None, None))
            for label, figure, direction, per_tier in _FIGURES:
                if per_tier:
                    out.append(_numeric(f"{label} @ {name}", figure(xa), figure(xb), direction))
    ca, cb = _flatten(a.config), _flatten(b.config)
    embedded = a.info.endpoint_label == b.info.endpoint_label == "embedded simulator"
    for key in sorted(ca.keys() | cb.keys()):
        if embedded and key in VOLATILE_CONFIG:
            continue
        va, vb = ca.get(key), cb.get(key)
        if va != vb:
            na, nb = _number(va), _number(vb)
            delta = nb - na if na is not None and nb is not None else None
            out.append(Difference(f"config.{key}", va, vb, delta, None))
    return out


def material(label: str, a: float, b: float) -> bool:
    """The difference between a and b is more than two runs of one deployment differ by."""
    if "rate" in label:
        return abs(b - a) > MATERIAL_RATE
    return abs(b - a) > MATERIAL * max(abs(a), abs(b))


def _numeric(label: str, a: float | None, b: float | None, direction: str | None) -> Difference:
    if a is None or b is None:
        return Difference(label, a, b, None, None)
    delta = b - a
    better: Literal["a", "b"] | None = None
    if direction and not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) and material(label, a, b):
        b_higher = b > a
        better = "b" if b_higher == (direction == "higher") else "a"
    return Difference(label, a, b, delta, better)


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _number(x: Any) -> float | None:
    """A number as it is (an int stays an int: its difference is a whole number too)."""
    return x if isinstance(x, int | float) and not isinstance(x, bool) else None
