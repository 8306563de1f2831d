"""Side-by-side comparison of two runs: headline figures at N* (or a fixed run's N), and the config
keys that differ."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agentperf_tui.core.store.access import tier_label
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


Figure = Callable[[RunFigures], float | None]
# (field label, the figure, which direction is better)
_FIGURES: tuple[tuple[str, Figure, Literal["higher", "lower"] | None], ...] = (
    ("N*", lambda f: f.head.n_star, "higher"),
    ("GPUs", lambda f: f.head.gpus, None),
    ("agents/GPU", lambda f: f.head.agents_per_gpu, "higher"),
    ("agents/MW", lambda f: f.head.agents_per_mw, "higher"),
    ("level N (N*, or a fixed run's N)", lambda f: f.head.level_n, None),
    ("mean GPU power at level N (W)", lambda f: f.head.mean_power_w, None),
    ("P25 speed at level N (tok/s)", lambda f: f.head.speed_p25, "higher"),
    ("P95 TTFT at level N (s)", lambda f: f.head.ttft_p95, "lower"),
    ("error rate at level N", lambda f: f.head.error_rate_at_n, "lower"),
    ("error rate (whole run)", lambda f: f.error_rate, "lower"),
    ("requests", lambda f: f.requests, None),
)


def run_figures(run: RunData) -> RunFigures:
    if len(run.requests):
        total, failed = len(run.requests), int((~run.requests.ok).sum())
    else:
        total, failed = run.summary.requests.ok + run.summary.requests.failed, run.summary.requests.failed
    rate = failed / total if total else None
    return RunFigures(head=headline(run.summary), error_rate=rate, requests=total)


def compare_runs(a: RunData, b: RunData) -> list[Difference]:
    """Context rows (run, model, endpoint, simulated, mode, tier, status, power basis), every
    headline figure, then one row per config key (dotted path) whose value differs."""
    fa, fb = run_figures(a), run_figures(b)
    out = [
        Difference("run", a.info.id, b.info.id, None, None),
        Difference("model", a.info.model, b.info.model, None, None),
        Difference("endpoint", a.info.endpoint, b.info.endpoint, None, None),
        Difference("simulated", a.info.simulated, b.info.simulated, None, None),
        Difference("mode", a.info.mode, b.info.mode, None, None),
        Difference("tier", tier_label(a.summary, a.config), tier_label(b.summary, b.config), None, None),
        Difference("status", a.info.status, b.info.status, None, None),
    ]
    out.append(Difference("power basis", fa.head.power_basis, fb.head.power_basis, None, None))
    for label, figure, direction in _FIGURES:
        out.append(_numeric(label, figure(fa), figure(fb), direction))
    ca, cb = _flatten(a.config), _flatten(b.config)
    for key in sorted(ca.keys() | cb.keys()):
        va, vb = ca.get(key), cb.get(key)
        if va != vb:
            na, nb = _number(va), _number(vb)
            delta = nb - na if na is not None and nb is not None else None
            out.append(Difference(f"config.{key}", va, vb, delta, None))
    return out


def _numeric(label: str, a: float | None, b: float | None, direction: str | None) -> Difference:
    if a is None or b is None:
        return Difference(label, a, b, None, None)
    delta = b - a
    better: Literal["a", "b"] | None = None
    if direction and not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
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
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None
