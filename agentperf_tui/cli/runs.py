"""`agentperf-tui runs`: list, show, export, annotate and compare stored runs."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from agentperf_tui.core import fmt
from agentperf_tui.core.report.html import write_report
from agentperf_tui.core.report.tier_rows import tier_rows
from agentperf_tui.core.search.confidence_text import confidence_text
from agentperf_tui.core.store import (
    Difference,
    RunData,
    RunInfo,
    StoreError,
    annotate_run,
    comparability,
    compare_runs,
    default_store_path,
    export_csv,
    export_dir,
    export_json,
    list_runs,
    load_run,
    resolve_run_id,
)
from agentperf_tui.core.store.compare import MATERIAL
from agentperf_tui.core.summary.headline import failures_text, headline, headlines, summary_notes

PROG = "agentperf-tui runs"
RUN_HELP = "run id, a unique prefix of one, or 'latest'"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "runs",
        help="list, show, export, annotate and compare stored runs",
        description="Work with the runs in the run store (default: "
        f"{default_store_path()}; set AGENTPERF_TUI_STORE or pass --store).",
    )
    p.set_defaults(func=lambda args: _usage(p))
    runs = p.add_subparsers(dest="runs_command", metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        a: argparse.ArgumentParser = runs.add_parser(name, help=help_text, description=help_text)
        a.add_argument("--store", type=Path, default=None, help="run store file (SQLite)")
        return a

    a = action("list", "list stored runs, newest first")
    a.add_argument("--json", action="store_true", help="one JSON array on stdout")
    a.set_defaults(func=cmd_list)

    a = action("show", "show one run: status, result, levels, annotations, telemetry")
    a.add_argument("run", help=RUN_HELP)
    a.set_defaults(func=cmd_show)

    a = action(
        "export",
        "export one run as JSON (one file), CSV (one file per table) or an HTML report (one page). By "
        "default the files go to exports/RUN/ next to the run store; -o . puts them in this folder.",
    )
    a.add_argument("run", help=RUN_HELP)
    a.add_argument("--format", choices=("json", "csv", "html"), default="json")
    a.add_argument(
        "-o", "--out", type=Path, default=None,
        help="output file or folder (default: exports/RUN/ next to the store: RUN.json, csv/, report.html)",
    )  # fmt: skip
    a.set_defaults(func=cmd_export)

    a = action("annotate", "add a note to a run (live or finished)")
    a.add_argument("run", help=RUN_HELP)
    a.add_argument("text", nargs="+", help="the note")
    a.set_defaults(func=cmd_annotate)

    a = action("compare", "compare two runs side by side")
    a.add_argument("a", help=RUN_HELP)
    a.add_argument("b", help=RUN_HELP)
    a.set_defaults(func=cmd_compare)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _store(args: argparse.Namespace) -> Path:
    return Path(args.store).expanduser() if args.store else default_store_path()


def _guarded(fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except StoreError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 2

    run.__name__ = fn.__name__
    return run


# ---------------------------------------------------------------- list


@_guarded
def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    runs = list_runs(store)
    if args.json:
        sys.stdout.write(
            orjson.dumps([_info_dict(r) for r in runs], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return 0
    if not runs:
        print(f"no runs in {store}")
        return 0
    rows = [
        [
            r.id,
            _when(r.started_wall),
            r.status,
            r.model or "—",
            r.endpoint_label + (" (SIMULATED)" if r.simulated else ""),
            r.headline,
            _notes(r),
        ]
        for r in runs
    ]
    print(
        _table(
            ["RUN", "STARTED", "STATUS", "MODEL", "ENDPOINT", "RESULT", "NOTES"],
            rows,
            clip=(0, 0, 0, 24, 40, 0, 40),
        )
    )
    print(f"\n{fmt.plural(len(runs), 'run')} in {store}")
    return 0


def _info_dict(r: RunInfo) -> dict[str, Any]:
    return {
        "id": r.id, "started_wall": r.started_wall, "status": r.status, "stored_status": r.stored_status,
        "endpoint": r.endpoint, "model": r.model, "simulated": r.simulated, "result_n": r.result_n,
        "result_final": r.result_final, "tier": r.tier, "headline": r.headline, "note": r.note,
        "annotations": r.annotations, "first_annotation": r.first_annotation, "best_pass": r.best_pass,
        "simulated_by": r.simulated_by,
    }  # fmt: skip


def _notes(r: RunInfo) -> str:
    parts = [r.note] if r.note else []
    if r.annotations:
        parts.append(f"[{r.annotations}] {r.first_annotation}")
    return " · ".join(parts)


# ---------------------------------------------------------------- show


@_guarded
def cmd_show(args: argparse.Namespace) -> int:
    run = load_run(_store(args), args.run)
    print(_describe(run))
    return 0


def _describe(run: RunData) -> str:
    info, summary = run.info, run.summary
    lines: list[str] = []

    def field(name: str, value: str) -> None:
        lines.append(f"{name:<12}{value}")

    field("run", info.id)
    ended = ""
    if info.finished_wall is not None:
        ended = (
            f", ended {_when(info.finished_wall)} after {_duration(info.finished_wall - info.started_wall)}"
        )
    field("status", f"{info.status}{ended}")
    field("started", _when(info.started_wall))
    what = summary.simulator or info.simulated_by or "simulator"
    simulated = f"  SIMULATED ({what})" if info.simulated else ""
    field("endpoint", info.endpoint_label + simulated)
    field("model", info.model or "—")
    field("result", info.headline)
    heads = headlines(summary)
    tier_table = ""
    if len(heads) <= 1:
        head = headline(summary)
        gpus = fmt.plural(head.gpus, "GPU") if head.gpus else "GPU count unknown: give --gpus or --hardware"
        field("per GPU", f"{fmt.per_gpu(head.agents_per_gpu)} agents/GPU ({gpus})")
        if head.agents_per_mw is not None:
            power = f"{head.power_text()}, mean {fmt.watts(head.mean_power_w)} at {head.at}"
            field("per MW", f"{fmt.per_mw(head.agents_per_mw)} agents/MW ({power})")
        else:
            field("per MW", f"— ({head.power_text()})")
        if head.bound_by():
            field("bound by", str(head.bound_by()))
        lv = head.level
        if lv is not None and lv.output_tok_s is not None:
            moved = _moved(lv.output_tok_s, lv.input_tok_s, lv.requests_per_s, lv.cache_hit_ratio,
                           lv.server_prefix_hit_ratio)
            field(f"at {head.at}", moved + " (measured window)")
    else:
        n_gpus = heads[0].gpus
        field("GPUs", fmt.count(n_gpus) if n_gpus else "unknown: give --gpus or --hardware")
        rows = [
            [r.tier, r.n_star, r.per_gpu, r.per_mw, r.power_w, r.at, r.confidence, r.bound_by]
            for r in tier_rows(summary)
        ]
        header = ["TIER", "N*", "AGENTS/GPU", "AGENTS/MW", "GPU POWER", "AT", "CONF", "BOUND BY"]
        basis = heads[0].power_text()
        what = f"\ntiers (GPU power: over the measured window of each tier's level; {basis})\n"
        tier_table = what + _table(header, rows)
    w = summary.whole_run
    if w.output_tok_s is not None:
        field("whole run", _moved(w.output_tok_s, w.input_tok_s, w.requests_per_s, w.cache_hit_ratio))
    if info.note:
        field("note", info.note)
    if info.writer_host:
        field("written by", f"{info.writer_host} pid {info.writer_pid}")
    req = run.requests
    cut_off = req.failure == "open_at_end"
    open_at_end = int(cut_off.sum())
    failed_rows = ~req.ok & ~cut_off
    failed = int(failed_rows.sum())
    cut = f", {fmt.count(open_at_end)} still open at the end" if open_at_end else ""
    field("requests", f"{fmt.count(len(req))} ({fmt.count(len(req) - failed - open_at_end)} ok, "
                      f"{fmt.count(failed)} failed{cut})")
    if summary.requests.failed and failures_text(summary):
        field("failed by", failures_text(summary))
    if failed:
        kinds = Counter(str(e) if e is not None else "no error text" for e in req.error[failed_rows])
        for text, count in kinds.most_common(5):
            lines.append(f"{'':<12}{count:>6} × {text[:90]}")
    if tier_table:
        lines.append(tier_table)
    for note in summary_notes(summary):
        lines.append(f"{'note':<12}! {note}")
    if run.levels:
        tier = summary.result.tier if summary.result is not None else None
        judged = info.tier is not None
        floor = tier.speed_tok_s if tier is not None else None
        limit = tier.ttft_s if tier is not None else None
        lines.append("\nlevels")
        rows = [
            [
                str(lv.index), str(lv.n), lv.role, lv.shown_verdict(judged=judged), fmt.count(lv.requests),
                fmt.count(lv.failed), _with_bounds(lv.speed_p25, lv.speed_p25_bounds, floor, True),
                _with_bounds(lv.ttft_p95, lv.ttft_p95_bounds, limit, False),
                fmt.rate(lv.output_tok_s, ""), fmt.percent(lv.cache_hit_ratio),
                fmt.optional(lv.confidence, confidence_text) if judged and lv.decided else "—",
                fmt.watts(lv.mean_power_w), lv.reason or lv.power_note or "",
            ]
            for lv in run.levels
        ]  # fmt: skip
        several = len(heads) > 1
        header = [
            "#", "N", "ROLE", "VERDICT", "REQS", "FAIL", "P25 SPEED", "P95 TTFT", "OUT TOK/S", "CACHE",
            "CONF", "POWER", "REASON",
        ]  # fmt: skip
        if several:
            header.insert(4, "TIERS")
            for row, lv in zip(rows, run.levels, strict=True):
                row.insert(4, lv.tiers_text())
        lines.append(_table(header, rows, clip=(0,) * (13 if several else 12) + (60,)))
        if several:
            lines.append("TIERS: each tier's verdict; in brackets where its search did not need the level; "
                         "VERDICT, P25 SPEED, P95 TTFT and CONF are the first tier's")
    if run.annotations:
        lines.append("\nannotations")
        for a in run.annotations:
            at = f"t={a.t:8.1f}s" if a.t is not None else "after run "
            lines.append(f"  {at}  {_when(a.wall)}  {a.text}")
    tel = run.telemetry
    if len(tel):
        sources = ", ".join(sorted({str(s) for s in tel.source}))
        samples = fmt.plural(len(tel), "sample")
        lines.append(f"\ntelemetry   {samples}, GPUs {', '.join(tel.gpus())} ({sources})")
    else:
        lines.append("\ntelemetry   none recorded")
    srv = run.server_metrics
    if len(srv):
        lines.append(f"server      {fmt.plural(len(srv), 'reading')}: {', '.join(srv.names())}")
    return "\n".join(lines)


def _moved(output: float | None, input_: float | None, rps: float | None, cache: float | None,
           server_cache: float | None = None) -> str:
    server = f" (server {fmt.percent(server_cache)})" if server_cache is not None else ""
    return (
        f"{fmt.rate(output)} out, {fmt.rate(input_)} in, {fmt.number(rps)} requests/s, "
        f"prefix cache hits {fmt.percent(cache)}{server}"
    )


def _with_bounds(value: float, bounds: tuple[float, float], limit: float | None, speed: bool) -> str:
    def one(x: float) -> str:
        return fmt.speed(x, floor=limit, unit=False) if speed else fmt.seconds(x, limit=limit)

    if math.isnan(value):
        return fmt.DASH
    lo, hi = bounds
    if math.isnan(lo) and math.isnan(hi):
        return one(value)
    return f"{one(value)} [{one(lo)}, {one(hi)}]"


# ---------------------------------------------------------------- export / annotate / compare


@_guarded
def cmd_export(args: argparse.Namespace) -> int:
    store = _store(args)
    run_id = resolve_run_id(store, args.run)
    folder = export_dir(store, run_id)
    out: Path | None = args.out
    if args.format == "json":
        written = [export_json(store, run_id, _ready(out or folder))]
    elif args.format == "csv":
        written = export_csv(store, run_id, out or folder / "csv")
    else:
        written = [write_report(load_run(store, run_id), _ready(out or folder / "report.html"))]
    for path in written:
        print(path)
    return 0


def _ready(target: Path) -> Path:
    """A folder target (one that exists, or the default folder) is created; a file's folder too."""
    if target.suffix:
        target.parent.mkdir(parents=True, exist_ok=True)
    else:
        target.mkdir(parents=True, exist_ok=True)
    return target


@_guarded
def cmd_annotate(args: argparse.Namespace) -> int:
    run_id, note = annotate_run(_store(args), args.run, " ".join(args.text))
    at = f" at t={note.t:.1f}s" if note.t is not None else ""
    print(f"annotated {run_id}{at}: {note.text}")
    return 0


@_guarded
def cmd_compare(args: argparse.Namespace) -> int:
    store = _store(args)
    a = load_run(store, args.a, with_telemetry=False)
    b = load_run(store, args.b, with_telemetry=False)
    for problem in comparability(a, b):
        print(f"! {problem}")
    print(format_comparison(compare_runs(a, b)))
    print(f"\nBETTER marks a difference of more than {fmt.percent(MATERIAL)} (error rates: one point)")
    return 0


def format_comparison(diffs: Sequence[Difference]) -> str:
    rows = []
    for d in diffs:
        mark = {"a": "A", "b": "B"}.get(d.better or "", "")
        rows.append([d.field, _value(d.a), _value(d.b), "" if d.delta is None else fmt.signed(d.delta), mark])
    return _table(["", "A", "B", "B - A", "BETTER"], rows, clip=(40, 40, 40, 0, 0))


# ---------------------------------------------------------------- formatting


def _value(x: Any) -> str:
    if isinstance(x, dict | list):
        return orjson.dumps(x).decode()
    if isinstance(x, str):
        return x
    return fmt.number(x)


def _when(wall: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))


def _duration(seconds: float) -> str:
    s = max(0, int(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], clip: Sequence[int] = ()) -> str:
    """Plain left-aligned columns; column i is cut to clip[i] characters when clip[i] > 0."""

    def cut(text: str, i: int) -> str:
        limit = clip[i] if i < len(clip) else 0
        return text if not limit or len(text) <= limit else text[: limit - 1] + "…"

    cells = [[cut(str(c), i) for i, c in enumerate(row)] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)
