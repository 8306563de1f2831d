"""The headline figures of a finished run, read from its summary (live or from the store).

N*, agents per GPU, agents per megawatt of measured GPU power (or why there is none), which SLO
criterion bound the result, how sure the search is, and where the run is stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, int | float) and math.isfinite(float(x)):
        return float(x)
    return None


def _first(d: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if d.get(k) is not None:
            return d[k]
    return None


@dataclass(frozen=True, slots=True)
class ResultView:
    run_id: str | None
    status: str
    simulated: bool
    comparable: bool
    mode: str | None
    rigour: str | None
    tier: str | None
    n_star: int | None
    gpu_count: int | None
    agents_per_gpu: float | None
    agents_per_mw: float | None
    power_basis: str
    """"measured GPU power", "nominal profile power (not measured)" or why there is none."""
    mean_power_w: float | None
    bound_by: str | None
    confidence: float | None
    store: str | None
    endpoint: str | None
    model: str | None
    duration_s: float | None
    levels: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fixed_n: int | None = None
    """A fixed-N run's N, with its level's verdict (N* is that N when the tier held)."""
    fixed_verdict: str | None = None


def tier_text(tier: Any) -> str | None:
    if tier is None:
        return None
    if isinstance(tier, str):
        return tier
    if isinstance(tier, dict):
        s, t = _num(tier.get("speed_tok_s")), _num(tier.get("ttft_s"))
        name = tier.get("name")
        if not name and tier.get("family"):
            name = f"{tier['family']}@{tier.get('version')}"
        figures = f"P25 ≥ {s:g} tok/s, P95 TTFT ≤ {t:g} s" if s is not None and t is not None else ""
        return f"{name} ({figures})" if name and figures else (name or figures or None)
    return str(tier)


POWER_BASIS = {
    "measured": "measured GPU power",
    "simulated": "simulated power model",
    "nominal": "nominal profile power (not measured)",
}
CRITERIA = {"speed": "P25 output speed", "ttft": "P95 TTFT", "speed+ttft": "P25 output speed and P95 TTFT"}


def _bound_by(levels: list[dict[str, Any]], n_star: int | None, result: dict[str, Any]) -> str | None:
    crit = result.get("failing_criterion")
    if isinstance(crit, str) and crit:
        at = f" (N={result['first_fail_n']} failed)" if result.get("first_fail_n") is not None else ""
        return CRITERIA.get(crit, crit) + at
    failing = [
        lv for lv in levels if lv.get("verdict") == "fail" and (n_star is None or lv.get("n", 0) > n_star)
    ]
    if not failing:
        return None
    lv = min(failing, key=lambda lv: lv.get("n", 0))
    which = []
    if lv.get("ttft_verdict") == "fail":
        which.append("P95 TTFT")
    if lv.get("speed_verdict") == "fail":
        which.append("P25 output speed")
    crit = " and ".join(which) or "the SLO"
    reason = f": {lv['reason']}" if lv.get("reason") else ""
    return f"{crit} (N={lv.get('n')} failed{reason})"


def from_summary(summary: dict[str, Any]) -> ResultView:
    result: dict[str, Any] = summary.get("result") or {}
    levels: list[dict[str, Any]] = [lv for lv in summary.get("levels") or [] if isinstance(lv, dict)]
    n_num = _num(_first(result, "n_star", "result_n", "n"))
    n_star = int(n_num) if n_num is not None else None
    gpus_num = _num(_first(result, "gpu_count") or summary.get("gpu_count"))
    gpu_count = int(gpus_num) if gpus_num else None
    at_n = next((lv for lv in levels if lv.get("n") == n_star and lv.get("verdict") == "pass"), None)
    if at_n is None:
        at_n = next((lv for lv in reversed(levels) if lv.get("n") == n_star), None)

    per_gpu = _num(result.get("agents_per_gpu"))
    if per_gpu is None and n_star is not None and gpu_count:
        per_gpu = n_star / gpu_count

    mean_power = _num(_first(result, "power_w", "mean_power_w"))
    if mean_power is None and at_n is not None:
        mean_power = _num(at_n.get("mean_power_w"))
    per_mw = _num(_first(result, "agents_per_mw", "agents_per_megawatt"))
    if per_mw is None and n_star and mean_power:
        per_mw = n_star / (mean_power / 1e6)
    basis_key = result.get("power_basis")
    if per_mw is not None:
        basis = POWER_BASIS.get(str(basis_key), str(basis_key or "measured GPU power"))
    else:
        note = result.get("power_note") or (at_n or {}).get("power_note")
        basis = str(note) if note else "no GPU power reading"

    notes: list[str] = []
    if summary.get("simulated"):
        notes.append("SIMULATED endpoint: figures come from the simulator's model, not a real server")
    if summary.get("comparable") is False:
        notes.append("not comparable: the server did not honour exact output lengths")
    if summary.get("status") not in (None, "finished"):
        notes.append(f"run {summary.get('status')}: the result covers the levels completed before it stopped")
    lag = _num((summary.get("client_lag_s") or {}).get("p99"))
    if lag is not None and lag > 0.05:
        notes.append(f"client lag p99 {lag * 1000:.0f} ms: the load generator may have shaped the numbers")
    failed = (summary.get("requests") or {}).get("failed")
    if failed:
        notes.append(f"{failed} failed requests (counted against the SLO)")

    if result.get("capped"):
        notes.append("the search reached its maximum N without failing: N* is at least this")
    notes.extend(str(n) for n in result.get("notes") or [])

    conf = _num(_first(result, "confidence"))
    if conf is None and at_n is not None:
        conf = _num(at_n.get("confidence"))

    fixed = levels[-1] if summary.get("mode") == "fixed" and levels else None
    fixed_n = _num(fixed.get("n")) if fixed is not None else None

    return ResultView(
        run_id=summary.get("run_id"),
        status=str(summary.get("status") or "unknown"),
        simulated=bool(summary.get("simulated")),
        comparable=summary.get("comparable") is not False,
        mode=summary.get("mode"),
        rigour=summary.get("rigour"),
        tier=tier_text(summary.get("tier")),
        n_star=n_star,
        gpu_count=gpu_count,
        agents_per_gpu=per_gpu,
        agents_per_mw=per_mw,
        power_basis=basis,
        mean_power_w=mean_power,
        bound_by=_bound_by(levels, n_star, result),
        confidence=conf,
        store=summary.get("store"),
        endpoint=summary.get("endpoint"),
        model=summary.get("model"),
        duration_s=_num(summary.get("duration_s")),
        levels=levels,
        notes=notes,
        fixed_n=int(fixed_n) if fixed_n is not None else None,
        fixed_verdict=str(fixed.get("verdict") or "undecided") if fixed is not None else None,
    )
