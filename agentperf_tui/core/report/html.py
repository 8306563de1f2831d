"""One stored run as a self-contained HTML page: headline figures, inline SVG plots, the levels,
the notes and the full configuration. No scripts and nothing fetched from the network, so the
page can be mailed, archived or opened on an air-gapped machine."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from agentperf_tui.core import fmt
from agentperf_tui.core.report.svg import Plot
from agentperf_tui.core.report.tier_rows import TierRow, per_gpu_caption, per_mw_caption, tier_rows
from agentperf_tui.core.search.confidence_text import confidence_text
from agentperf_tui.core.store import RunData, run_figures
from agentperf_tui.core.store.partial import configured_tier, configured_tiers
from agentperf_tui.core.summary.headline import Headline, failures_text, summary_notes
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.tiers import SloTier, tiers_label

PASS, FAIL, OPEN = "#2e7d32", "#c62828", "#b28704"
BLUE, GREY, ORANGE = "#1565c0", "#9e9e9e", "#e65100"
GPU_COLORS = ("#e65100", "#1565c0", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#37474f")
TIER_COLORS = ("#c62828", "#b28704", "#00897b", "#8e24aa", "#1565c0", "#6d4c41")
"""One colour per SLO tier of a run, in the run's order (the first is the limit colour)."""
MAX_POINTS = 4000

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.sim { background: #b28704; color: #fff; padding: 0.15em 0.5em; border-radius: 3px; font-weight: 600; }
.warn { color: #b28704; } .pass { color: #2e7d32; } .fail { color: #c62828; } .open { color: #b28704; }
.other { color: #777; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
td, th { padding: 0.25em 0.8em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { color: #555; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.big { font-size: 2.6em; font-weight: 700; } .muted { color: #666; }
.plots svg { display: block; margin: 1em 0; max-width: 100%; height: auto; }
code { font-size: 0.9em; }
"""


def _run_tier(run: RunData) -> SloTier | None:
    result = run.summary.result
    if result is not None and result.tier is not None:
        return result.tier
    return configured_tier(run.config)


def _run_tiers(run: RunData) -> tuple[SloTier, ...]:
    """Every tier the run was judged against, in its order."""
    tiers = tuple(r.tier for r in run.summary.results if r.tier is not None)
    return tiers or configured_tiers(run.config)


def _limits(run: RunData, speed: bool) -> list[tuple[float, str, str]]:
    """(threshold, colour, label) of each tier: its P25 speed floor or its P95 TTFT limit,
    labelled with the tier's S-T part when the run has several."""
    tiers = _run_tiers(run)
    word = "floor" if speed else "limit"
    return [
        (t.speed_tok_s if speed else t.ttft_s, TIER_COLORS[k % len(TIER_COLORS)],
         f"{word} {t.name.rpartition('/')[2]}" if len(tiers) > 1 else word)
        for k, t in enumerate(tiers)
    ]  # fmt: skip


def _tier_text(run: RunData) -> str:
    tiers = _run_tiers(run)
    if len(tiers) > 1:
        return f"{tiers_label(tiers)} — {len(tiers)} tiers, judged on the same levels (see Tiers)"
    tier = _run_tier(run)
    return f"{tier.name} — {tier.describe()}" if tier is not None else "none"


def _judged(run: RunData) -> bool:
    return _run_tier(run) is not None


def _shown(run: RunData, lv: LevelRecord) -> str:
    return lv.shown_verdict(judged=_judged(run))


def _verdict_color(shown: str) -> str:
    """The colour of what a level shows: pass, fail, open, or grey (discarded, no tier)."""
    base = shown.lstrip("~").split(" ", 1)[0]
    return {"pass": PASS, "fail": FAIL, "open": OPEN}.get(base, GREY)


def _sample(n: int) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.linspace(0, n - 1, MAX_POINTS).astype(np.int64)


def plot_levels(run: RunData) -> str:
    p = Plot("Concurrency over time (colour = level verdict)", "run time (s)", "agents N")
    xs, ys = [], []
    for lv in run.levels:
        end = lv.ended_at if lv.ended_at is not None else lv.started_at
        p.segment(lv.started_at, max(end, lv.started_at), lv.n, _verdict_color(_shown(run, lv)), 5)
        xs += [lv.started_at, end]
        ys += [lv.n, lv.n]
    if xs:
        p.line(xs, ys, GREY, width=1)
    return p.svg()


def plot_level_metric(
    run: RunData, attr: str, limits: list[tuple[float, str, str]], title: str, y_label: str
) -> str:
    """One bar per level, in the order tried, at evenly spaced places labelled with its N (so a
    level at N=2 is as wide as one at N=512, and a repeated N gets a bar of its own)."""
    levels = list(run.levels)
    vals = [getattr(lv, attr) for lv in levels]
    limits, off = on_axis(limits, max((v for v in vals if math.isfinite(v)), default=math.nan))
    p = Plot(title + off, "levels in the order tried, labelled N", y_label)
    if levels:
        places = [float(i) for i in range(len(levels))]
        p.bars(
            places,
            [v if math.isfinite(v) else 0.0 for v in vals],
            [_verdict_color(_shown(run, lv)) for lv in levels],
            0.7,
        )
        p.x_range = (-0.6, len(levels) - 0.4)
        p.x_ticks = [(float(i), str(lv.n)) for i, lv in enumerate(levels)]
    for value, color, label in limits:
        p.hline(value, color, label)
    return p.svg()


OFF_AXIS = 3.0
"""A further tier's threshold more than this many times the largest value plotted is named in
the title instead of drawn: a 2,000 tok/s floor would flatten bars of 100 tok/s."""


def on_axis(
    limits: list[tuple[float, str, str]], top: float
) -> tuple[list[tuple[float, str, str]], str]:
    """The thresholds to draw (the first tier's always: the axis reaches it), and the title's
    note naming the others."""
    if limits and math.isfinite(limits[0][0]):
        top = max(top, limits[0][0]) if math.isfinite(top) else limits[0][0]
    if not math.isfinite(top) or top <= 0:
        return limits, ""
    kept = [lim for k, lim in enumerate(limits) if k == 0 or lim[0] <= top * OFF_AXIS]
    off = [lim for k, lim in enumerate(limits) if k > 0 and lim[0] > top * OFF_AXIS]
    note = "; ".join(f"{label} {fmt.limit_text(value)}" for value, _, label in off)
    return kept, (f" (off the axis: {note})" if note else "")


def plot_ttft_scatter(run: RunData, limits: list[tuple[float, str, str]]) -> str:
    req = run.requests
    p = Plot("TTFT of every request (sampled), failed requests at the top", "run time (s)", "TTFT (s)")
    if len(req):
        idx = _sample(len(req))
        ttft = req.ttft()[idx]
        t = req.t_intended[idx]
        ok = np.isfinite(ttft)
        top = float(np.nanmax(ttft[ok])) if ok.any() else 1.0
        top = max([top, *(limit * 1.1 for limit, _, _ in limits if math.isfinite(limit))])
        p.points(t[ok].tolist(), ttft[ok].tolist(), BLUE, "ok")
        if (~ok).any():
            p.points(t[~ok].tolist(), [top] * int((~ok).sum()), FAIL, "failed", r=2.4)
    for limit, color, label in limits:
        p.hline(limit, color, f"P95 {label}")
    return p.svg()


def plot_speed_hist(run: RunData, n_star: int | None, floors: list[tuple[float, str, str]]) -> str:
    """Per-request output speed at N* (the first tier's; the whole run without one), bins under
    the first tier's floor in red, and each tier's floor marked."""
    floor = floors[0][0] if floors else math.nan
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
            p.points([p25], [0.0], "#000", f"P25 {fmt.speed(p25, floor=floor)}", r=4)
            floors, off = on_axis(floors, hi)
            p.title += off
    for value, color, label in floors:
        p.vline(value, color, label)
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


def _moved(output: float | None, input_: float | None, rps: float | None, cache: float | None,
           server_cache: float | None = None) -> str:
    server = f" (server: {fmt.percent(server_cache)})" if server_cache is not None else ""
    return (
        f"{fmt.rate(output)} out · {fmt.rate(input_)} in · {fmt.number(rps)} requests/s · "
        f"prefix cache hits {fmt.percent(cache)}{server}"
    )


def _headline(run: RunData) -> str:
    fig = run_figures(run)
    h = fig.head
    summary = run.summary
    gpus = fmt.plural(h.gpus, "GPU") if h.gpus else "GPU count unknown"
    n_star = h.n_star if summary.mode != "fixed" else h.level_n
    tiers = tier_rows(summary)
    if len(tiers) > 1:  # each tier's answer is in the tier table
        stars = " · ".join(r.n_star for r in tiers)
        rows = [
            (f"N* ({' · '.join(r.short for r in tiers)})", f'<span class="big">{stars}</span>'),
            ("GPUs", escape(gpus)),
        ]
    else:
        rows = _answer_rows(summary, h, n_star, gpus)
    lv = h.level
    if len(tiers) <= 1 and lv is not None and lv.output_tok_s is not None:
        rows.append((f"measured window at {h.at}", escape(_moved(
            lv.output_tok_s, lv.input_tok_s, lv.requests_per_s, lv.cache_hit_ratio, lv.server_prefix_hit_ratio
        ))))
    w = summary.whole_run
    if w.output_tok_s is not None:
        rows.append(("whole run", escape(_moved(w.output_tok_s, w.input_tok_s, w.requests_per_s,
                                                w.cache_hit_ratio))))
    failed = ""
    if summary.requests.failed:
        failed = f" <span class='warn'>failed: {escape(failures_text(summary))}</span>"
    rows += [
        ("error rate", fmt.percent(fig.error_rate, 2)),
        ("requests", fmt.count(fig.requests) + failed),
        ("tier" if len(tiers) <= 1 else "tiers", escape(_tier_text(run))),
        ("status", escape(run.info.status)),
    ]
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _answer_rows(summary: RunSummary, h: Headline, n_star: int | None, gpus: str) -> list[tuple[str, str]]:
    """The rows of a single tier's answer: N*, per GPU, per MW and the level's percentiles."""
    return [
        ("N*" if summary.mode != "fixed" else "N held", f'<span class="big">{fmt.number(n_star)}</span>'),
        ("agents per GPU", f"{fmt.per_gpu(h.agents_per_gpu)} <span class='muted'>({escape(gpus)})</span>"),
        (
            "agents per MW",
            f"{fmt.per_mw(h.agents_per_mw)} <span class='muted'>mean GPU power at {h.at} "
            f"{fmt.watts(h.mean_power_w)} ({escape(h.power_text())})</span>"
            if h.agents_per_mw is not None
            else f"— <span class='warn'>{escape(h.power_text())}</span>",
        ),
        (f"P25 output speed at {h.at}", fmt.speed(h.speed_p25)),
        (f"P95 TTFT at {h.at}", fmt.seconds(h.ttft_p95)),
    ]


def _tiers_table(rows: list[TierRow]) -> str:
    """Every tier's answer: N*, agents per GPU and per MW, the GPU power they divide by and its
    basis, the level they rest on, the confidence and what bound the search."""
    head = (
        "tier", "criteria", "N*", "agents per GPU", "agents per MW", "mean GPU power", "power basis",
        "level (#, N)", "confidence", "bound by",
    )  # fmt: skip
    body = []
    for k, r in enumerate(rows):
        color = TIER_COLORS[k % len(TIER_COLORS)]
        cells = [
            f'<td style="color:{color}"><b>{escape(r.tier)}</b></td>',
            f"<td>{escape(r.criteria)}</td>",
            f'<td class="num"><b>{escape(r.n_star)}</b></td>',
            f'<td class="num">{escape(r.per_gpu)}</td>',
            f'<td class="num">{escape(r.per_mw)}</td>',
            f'<td class="num">{escape(r.power_w)}</td>',
            f"<td>{escape(r.power)}</td>",
            f"<td>{escape(r.level)}</td>",
            f'<td class="num">{escape(r.confidence)}</td>',
            f"<td>{escape(r.bound_by)}</td>",
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(body) + "</table>"


def plot_tiers(summary: RunSummary, per_mw: bool) -> str:
    """One bar per tier: agents per MW (or per GPU), the figure written on each bar; a tier
    without a figure gets no bar and says why under its name. SIMULATED in the title when the
    run was."""
    rows = tier_rows(summary)
    caption = per_mw_caption(summary) if per_mw else per_gpu_caption(summary)
    what = "agents per MW" if per_mw else "agents per GPU"
    title = ("SIMULATED · " if summary.simulated else "") + f"{what[0].upper()}{what[1:]} by SLO tier"
    p = Plot(title, caption, what, height=240)
    values = [r.head.agents_per_mw if per_mw else r.head.agents_per_gpu for r in rows]
    places = [float(i) for i in range(len(rows))]
    colors = [TIER_COLORS[k % len(TIER_COLORS)] for k in range(len(rows))]
    p.bars(places, [v if v is not None else 0.0 for v in values], colors, 0.6)
    for x, v, r in zip(places, values, rows, strict=True):
        if v is not None and v > 0:
            p.label(x, v, r.per_mw if per_mw else r.per_gpu)
    p.x_range = (-0.6, len(rows) - 0.4)
    p.x_ticks = [
        (x, r.short if v else f"{r.short} (none)") for x, v, r in zip(places, values, rows, strict=True)
    ]
    return p.svg()


def _levels_table(run: RunData) -> str:
    head: tuple[str, ...] = (
        "N", "role", "verdict", "P25 speed (tok/s)", "P95 TTFT", "requests", "failed", "output tok/s",
        "prefix cache hits", "mean power", "confidence", "why",
    )  # fmt: skip
    several = len(_run_tiers(run)) > 1
    if several:
        head = (*head[:3], "each tier (first tier's on the left)", *head[3:])
    tier = _run_tier(run)
    floor = tier.speed_tok_s if tier is not None else None
    limit = tier.ttft_s if tier is not None else None
    rows = []
    for lv in run.levels:
        shown = _shown(run, lv)
        base = shown.lstrip("~").split(" ", 1)[0]
        cls = {"pass": "pass", "fail": "fail", "open": "open"}.get(base, "other")
        conf = fmt.optional(lv.confidence, confidence_text) if tier is not None and lv.decided else "—"
        cells = [
            f'<td class="num">{lv.n}</td>',
            f"<td>{escape(lv.role)}</td>",
            f'<td class="{cls}">{escape(shown)}</td>',
            *([f"<td>{escape(lv.tiers_text())}</td>"] if several else []),
            f'<td class="num">{fmt.speed(lv.speed_p25, floor=floor, unit=False)}</td>',
            f'<td class="num">{fmt.seconds(lv.ttft_p95, limit=limit)}</td>',
            f'<td class="num">{fmt.count(lv.requests)}</td>',
            f'<td class="num">{fmt.count(lv.failed)}</td>',
            f'<td class="num">{fmt.rate(lv.output_tok_s, "")}</td>',
            f'<td class="num">{fmt.percent(lv.cache_hit_ratio)}</td>',
            f'<td class="num">{fmt.watts(lv.mean_power_w)}</td>',
            f'<td class="num">{conf}</td>',
            f"<td>{escape(lv.reason or '')}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"


def config_rows(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """The configuration as (key, value) rows a person reads: nested settings as dotted keys,
    lists as comma-separated values, yes/no, and "—" for a setting left at its default (None)."""
    out: list[tuple[str, str]] = []
    for key in sorted(config):
        value = config[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.extend(config_rows(value, f"{name}."))
        elif isinstance(value, list | tuple):
            out.append((name, ", ".join(str(v) for v in value) if value else "—"))
        elif isinstance(value, bool):
            out.append((name, "yes" if value else "no"))
        elif isinstance(value, int | float):
            out.append((name, f"{value:g}" if isinstance(value, float) else str(value)))
        elif value is None or value == {}:
            out.append((name, "—"))
        else:
            out.append((name, str(value)))
    return out


def _config_table(config: dict[str, Any]) -> str:
    rows = [
        f"<tr><th><code>{escape(key)}</code></th><td>{escape(value)}</td></tr>"
        for key, value in config_rows(config)
    ]
    return "<table>" + "".join(rows) + "</table>"


def render_report(run: RunData) -> str:
    info = run.info
    n_star = run.summary.result.n_star if run.summary.result is not None else None
    started = dt.datetime.fromtimestamp(info.started_wall).strftime("%Y-%m-%d %H:%M:%S")
    sim = '<span class="sim">SIMULATED ENDPOINT</span> ' if info.simulated else ""
    simulator = f" ({escape(run.summary.simulator)})" if run.summary.simulator else ""
    warnings = [escape(note) for note in summary_notes(run.summary)]
    notes = "".join(
        f"<li>{escape(a.text)} <span class='muted'>{'' if a.t is None else f'at {a.t:.0f} s'}</span></li>"
        for a in run.annotations
    )
    floors, limits = _limits(run, speed=True), _limits(run, speed=False)
    tiers = tier_rows(run.summary)
    plots = [plot_levels(run)]
    if run.levels:
        plots.append(plot_level_metric(run, "ttft_p95", limits, "P95 TTFT per level", "s"))
        plots.append(plot_level_metric(run, "speed_p25", floors, "P25 output speed per level", "tok/s"))
    if len(run.requests):
        plots.append(plot_ttft_scatter(run, limits))
        plots.append(plot_speed_hist(run, n_star, floors))
    if len(run.telemetry):
        plots.append(plot_power(run))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>agentperf run {escape(info.id)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{sim}Run {escape(info.id)}</h1>",
        f"<p class='muted'>{escape(info.model)} at {escape(info.endpoint_label)}{simulator} · "
        f"started {started}</p>",
        "".join(f"<p class='warn'>{w}</p>" for w in warnings),
        "<h2>Result</h2>",
        _headline(run),
        *(
            [
                "<h2>Tiers</h2>",
                "<p class='muted'>Every tier judged on the same levels; the figures of each rest on "
                "the measured window of its own level (mean GPU power over that window).</p>",
                _tiers_table(tiers),
                f'<div class="plots">{plot_tiers(run.summary, True)}{plot_tiers(run.summary, False)}</div>',
            ]
            if len(tiers) > 1
            else []
        ),
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
