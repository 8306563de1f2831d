"""Side-by-side comparison of two runs: headline figures at N* (or a fixed run's N), and the config
keys that differ."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agentperf_tui.core.store.models import Difference, RunData
from agentperf_tui.core.store.summary_fields import (
    finite_or_none,
    gpu_count,
    level_at,
    result_n,
    summary_value,
    tier_label,
)


@dataclass(frozen=True, slots=True)
class RunFigures:
    """The headline figures of one run, each None where the run cannot tell."""

    n_star: int | None
    level_n: int | None
    """The N whose level the per-level figures come from: N* after a search, the N of a fixed run."""
    gpus: int | None
    agents_per_gpu: float | None
    agents_per_mw: float | None
    mean_power_w: float | None
    """Mean GPU power (all GPUs) over that level's measured window."""
    power_basis: str | None
    """"measured", "simulated" or "nominal" (a profile figure) when the summary says so."""
    speed_p25: float | None
    """P25 output speed at that level (tok/s)."""
    ttft_p95: float | None
    """P95 TTFT at that level (s)."""
    error_rate_at_n: float | None
    error_rate: float | None
    """Failed / all requests of the whole run."""
    requests: int

    @property
    def at(self) -> str:
        """Where the per-level figures were measured, in words: "N*" or "N=24" (a fixed run)."""
        if self.level_n is not None and self.level_n != self.n_star:
            return f"N={self.level_n}"
        return "N*"


# (field label, RunFigures attribute, which direction is better)
_FIGURES: tuple[tuple[str, str, Literal["higher", "lower"] | None], ...] = (
    ("N*", "n_star", "higher"),
    ("GPUs", "gpus", None),
    ("agents/GPU", "agents_per_gpu", "higher"),
    ("agents/MW", "agents_per_mw", "higher"),
    ("level N (N*, or a fixed run's N)", "level_n", None),
    ("mean GPU power at level N (W)", "mean_power_w", None),
    ("P25 speed at level N (tok/s)", "speed_p25", "higher"),
    ("P95 TTFT at level N (s)", "ttft_p95", "lower"),
    ("error rate at level N", "error_rate_at_n", "lower"),
    ("error rate (whole run)", "error_rate", "lower"),
    ("requests", "requests", None),
)


def run_figures(run: RunData) -> RunFigures:
    n = result_n(run.summary, run.levels)
    level_n = n
    if not level_n and run.info.mode == "fixed" and run.info.last_level is not None:
        level_n = run.info.last_level[0]
    level = level_at(run.levels, level_n)
    gpus = gpu_count(run.summary, run.config, len(run.telemetry.gpus()))
    power = finite_or_none(summary_value(run.summary, "power_w")[1])
    if power is None and level is not None:
        power = finite_or_none(level.mean_power_w)
    basis = summary_value(run.summary, "power_basis")[1]
    per_gpu = finite_or_none(summary_value(run.summary, "agents_per_gpu")[1])
    if per_gpu is None and n is not None and gpus:
        per_gpu = n / gpus
    per_mw = finite_or_none(summary_value(run.summary, "agents_per_mw")[1])
    if per_mw is None and n is not None and power:
        per_mw = n / (power / 1e6)
    if len(run.requests):
        total, failed = len(run.requests), int((~run.requests.ok).sum())
    else:
        total, failed = sum(lv.requests for lv in run.levels), sum(lv.failed for lv in run.levels)
    return RunFigures(
        n_star=n,
        level_n=level_n,
        gpus=gpus,
        agents_per_gpu=per_gpu,
        agents_per_mw=per_mw,
        mean_power_w=power,
        power_basis=str(basis) if basis is not None else None,
        speed_p25=finite_or_none(level.speed_p25) if level else None,
        ttft_p95=finite_or_none(level.ttft_p95) if level else None,
        error_rate_at_n=level.failed / level.requests if level and level.requests else None,
        error_rate=failed / total if total else None,
        requests=total,
    )


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
    out.append(Difference("power basis", fa.power_basis, fb.power_basis, None, None))
    for label, attr, direction in _FIGURES:
        out.append(_numeric(label, getattr(fa, attr), getattr(fb, attr), direction))
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
