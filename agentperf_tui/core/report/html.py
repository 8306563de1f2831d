"""One stored run as a self-contained HTML page: headline figures, inline SVG plots, the levels,
the notes and the full configuration. No scripts and nothing fetched from the network, so the
page can be mailed, archived or opened on an air-gapped machine."""

from __future__ import annotations

import datetime as dt
import math
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from agentperf_tui.core.report.svg import Plot
from agentperf_tui.core.search.confidence_text import confidence_text
from agentperf_tui.core.store import RunData, run_figures
from agentperf_tui.core.store.partial import configured_tier
from agentperf_tui.core.summary.headline import summary_notes
from agentperf_tui.core.tiers import SloTier

PASS, FAIL, OPEN = "#2e7d32", "#c62828", "#b28704"
BLUE, GREY, ORANGE = "#1565c0", "#9e9e9e", "#e65100"
GPU_COLORS = ("#e65100", "#1565c0", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#37474f")
MAX_POINTS = 4000

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.sim { background: #b28704; color: #fff; padding: 0.15em 0.5em; border-radius: 3px; font-weight: 600; }
.warn { color: #b28704; } .pass { color: #2e7d32; } .fail { color: #c62828; } .open { color: #b28704; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
td, th { padding: 0.25em 0.8em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { color: #555; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.big { font-size: 2.6em; font-weight: 700; } .muted { color: #666; }
.plots svg { display: block; margin: 1em 0; max-width: 100%; height: auto; }
code { font-size: 0.9em; }
"""


def _f(x: Any, digits: int = 1, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, float):
        return f"{x:,.{digits}f}{unit}"
    return f"{x}{unit}"


def _run_tier(run: RunData) -> SloTier | None:
    result = run.summary.result
    if result is not None and result.tier is not None:
        return result.tier
    return configured_tier(run.config)


def _tier(run: RunData) -> tuple[float, float]:
    """(speed floor tok/s, TTFT limit s), NaN when the run had no tier."""
    tier = _run_tier(run)
    return (tier.speed_tok_s, tier.ttft_s) if tier is not None else (math.nan, math.nan)


def _tier_text(run: RunData) -> str:
    tier = _run_tier(run)
    return f"{tier.name} — {tier.describe()}" if tier is not None else "none"


def _verdict_color(v: str) -> str:
    return {"pass": PASS, "fail": FAIL}.get(v, OPEN)


def _sample(n: int) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.linspace(0, n - 1, MAX_POINTS).astype(np.int64)


def plot_levels(run: RunData) -> str:
    p = Plot("Concurrency over time (colour = level verdict)", "run time (s)", "agents N")
    xs, ys = [], []
    for lv in run.levels:
        end = lv.ended_at if lv.ended_at is not None else lv.started_at
        p.segment(lv.started_at, max(end, lv.started_at), lv.n, _verdict_color(lv.verdict), 5)
        xs += [lv.started_at, end]
        ys += [lv.n, lv.n]
    if xs:
        p.line(xs, ys, GREY, width=1)
    return p.svg()


def plot_level_metric(
    run: RunData, attr: str, limit: float, title: str, y_label: str, limit_label: str
) -> str:
    p = Plot(title, "agents N (levels in the order tried)", y_label)
    levels = sorted(run.levels, key=lambda lv: lv.n)
    if levels:
        ns = [float(lv.n) for lv in levels]
        width = max(0.6, (max(ns) - min(ns)) / max(8, len(ns) * 2)) if len(ns) > 1 else 1.0
        vals = [getattr(lv, attr) for lv in levels]
        p.bars(
            ns,
            [v if math.isfinite(v) else 0.0 for v in vals],
            [_verdict_color(lv.verdict) for lv in levels],
            width,
        )
    p.hline(limit, FAIL, limit_label)
    return p.svg()


def plot_ttft_scatter(run: RunData, limit: float) -> str:
    req = run.requests
    p = Plot("TTFT of every request (sampled), failed requests at the top", "run time (s)", "TTFT (s)")
    if len(req):
        idx = _sample(len(req))
        ttft = req.ttft()[idx]
        t = req.t_intended[idx]
        ok = np.isfinite(ttft)
        top = float(np.nanmax(ttft[ok])) if ok.any() else 1.0
        if math.isfinite(limit):
            top = max(top, limit * 1.1)
        p.points(t[ok].tolist(), ttft[ok].tolist(), BLUE, "ok")
        if (~ok).any():
            p.points(t[~ok].tolist(), [top] * int((~ok).sum()), FAIL, "failed", r=2.4)
    p.hline(limit, FAIL, "P95 limit")
    return p.svg()


def plot_speed_hist(run: RunData, n_star: int | None, floor: float) -> str:
    req = run.requests
    title = "Output speed per request" + (f" at N*={n_star}" if n_star is not None else " (whole run)")
    p = Plot(title, "tok/s", "requests")
    if len(req):
        speed = req.output_speed()
        if n_star is not None and run.levels:
            level_ns = {lv.index: lv.n for lv in run.levels}
            mask = np.array(
                [level_ns.get(int(v), -1) == n_star if math.isfinite(v) else False for v in req.level]
            )
            if mask.any():
                speed = speed[mask]
        speed = speed[np.isfinite(speed)]
        if speed.size:
            hi = float(np.percentile(speed, 99.5)) or 1.0
            counts, edges = np.histogram(np.clip(speed, 0, hi), bins=40, range=(0, hi))
            centers = (edges[:-1] + edges[1:]) / 2
            colors = [FAIL if math.isfinite(floor) and c < floor else BLUE for c in centers]
            p.bars(centers.tolist(), counts.astype(float).tolist(), colors, float(edges[1] - edges[0]))
            p25 = float(np.percentile(speed, 25))
            p.points([p25], [0.0], "#000", f"P25 {p25:.0f} tok/s", r=4)
    p.vline(floor, FAIL, "floor")
    return p.svg()


def plot_power(run: RunData) -> str:
    tel = run.telemetry
    p = Plot("GPU power", "run time (s)", "W")
    gpus = tel.gpus()
    for i, gpu in enumerate(gpus):
        mask = (tel.gpu == gpu) & np.isfinite(tel.power_w)
        t, w = tel.t[mask], tel.power_w[mask]
        idx = _sample(len(t))
        p.line(
            t[idx].tolist(),
            w[idx].tolist(),
            GPU_COLORS[i % len(GPU_COLORS)],
            f"GPU {gpu}" if len(gpus) <= 8 else "",
        )
    return p.svg()


def _headline(run: RunData) -> str:
    fig = run_figures(run)
    h = fig.head
    rows = [
        ("N*", f'<span class="big">{_f(h.n_star)}</span>'),
        ("agents per GPU", f"{_f(h.agents_per_gpu, 2)} <span class='muted'>({_f(h.gpus)} GPUs)</span>"),
        (
            "agents per MW",
            f"{_f(h.agents_per_mw, 0)} <span class='muted'>mean GPU power at {h.at} "
            f"{_f(h.mean_power_w, 0, ' W')} ({escape(h.power_text())})</span>"
            if h.agents_per_mw is not None
            else f"<span class='warn'>{escape(h.power_text())}</span>",
        ),
        (f"P25 output speed at {h.at}", _f(h.speed_p25, 1, " tok/s")),
        (f"P95 TTFT at {h.at}", _f(h.ttft_p95, 2, " s")),
        ("error rate", _f(None if fig.error_rate is None else fig.error_rate * 100, 2, " %")),
        ("requests", _f(fig.requests)),
        ("tier", escape(_tier_text(run))),
        ("status", escape(run.info.status)),
    ]
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _levels_table(run: RunData) -> str:
    head = (
        "N",
        "verdict",
        "P25 speed (tok/s)",
        "P95 TTFT (s)",
        "requests",
        "failed",
        "mean power (W)",
        "confidence",
        "why",
    )
    rows = []
    for lv in run.levels:
        cls = {"pass": "pass", "fail": "fail"}.get(lv.verdict, "open")
        conf = confidence_text(lv.confidence) if lv.confidence is not None else "—"
        cells = [
            f'<td class="num">{lv.n}</td>',
            f'<td class="{cls}">{escape(lv.verdict)}</td>',
            f'<td class="num">{_f(lv.speed_p25, 1)}</td>',
            f'<td class="num">{_f(lv.ttft_p95, 2)}</td>',
            f'<td class="num">{lv.requests}</td>',
            f'<td class="num">{lv.failed}</td>',
            f'<td class="num">{_f(lv.mean_power_w, 0)}</td>',
            f'<td class="num">{conf}</td>',
            f"<td>{escape(lv.reason or '')}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"


def _config_table(config: dict[str, Any]) -> str:
    rows = []
    for key in sorted(config):
        value = config[key]
        text = escape(str(value)) if not isinstance(value, dict | list) else escape(repr(value))
        rows.append(f"<tr><th><code>{escape(key)}</code></th><td><code>{text}</code></td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def render_report(run: RunData) -> str:
    info = run.info
    floor, limit = _tier(run)
    n_star = run.summary.result.n_star if run.summary.result is not None else None
    started = dt.datetime.fromtimestamp(info.started_wall).strftime("%Y-%m-%d %H:%M:%S")
    sim = '<span class="sim">SIMULATED ENDPOINT</span> ' if info.simulated else ""
    warnings = [escape(note) for note in summary_notes(run.summary)]
    notes = "".join(
        f"<li>{escape(a.text)} <span class='muted'>{'' if a.t is None else f'at {a.t:.0f} s'}</span></li>"
        for a in run.annotations
    )
    plots = [plot_levels(run)]
    if run.levels:
        plots.append(plot_level_metric(run, "ttft_p95", limit, "P95 TTFT per level", "s", "limit"))
        plots.append(
            plot_level_metric(run, "speed_p25", floor, "P25 output speed per level", "tok/s", "floor")
        )
    if len(run.requests):
        plots.append(plot_ttft_scatter(run, limit))
        plots.append(plot_speed_hist(run, n_star, floor))
    if len(run.telemetry):
        plots.append(plot_power(run))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>agentperf run {escape(info.id)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{sim}Run {escape(info.id)}</h1>",
        f"<p class='muted'>{escape(info.model)} at {escape(info.endpoint)} · started {started}</p>",
        "".join(f"<p class='warn'>{w}</p>" for w in warnings),
        "<h2>Result</h2>",
        _headline(run),
        "<h2>Plots</h2>",
        '<div class="plots">' + "".join(plots) + "</div>",
        "<h2>Levels</h2>",
        _levels_table(run) if run.levels else "<p class='muted'>no level was measured</p>",
        "<h2>Notes</h2>",
        f"<ul>{notes}</ul>" if notes else "<p class='muted'>none</p>",
        "<h2>Configuration</h2>",
        _config_table(run.config),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(run: RunData, path: Path) -> Path:
    """Write the report to `path` (a file, or a folder for report-<run id>.html)."""
    target = path / f"report-{run.info.id}.html" if path.is_dir() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(render_report(run), encoding="utf-8")
    tmp.replace(target)
    return target
