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

from agentperf_tui.core.store import (
    Difference,
    RunData,
    RunInfo,
    StoreError,
    annotate_run,
    compare_runs,
    default_store_path,
    export_csv,
    export_json,
    list_runs,
    load_run,
    resolve_run_id,
)
from agentperf_tui.core.summary.headline import headline

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

    a = action("export", "export one run as JSON (one file) or CSV (one file per table)")
    a.add_argument("run", help=RUN_HELP)
    a.add_argument("--format", choices=("json", "csv"), default="json")
    a.add_argument(
        "-o", "--out", type=Path, default=None,
        help="JSON: output file or folder (default ./RUN.json); CSV: output folder (default ./RUN-csv)",
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
            r.endpoint + (" (SIMULATED)" if r.simulated else ""),
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
    print(f"\n{len(runs)} run(s) in {store}")
    return 0


def _info_dict(r: RunInfo) -> dict[str, Any]:
    return {
        "id": r.id, "started_wall": r.started_wall, "status": r.status, "stored_status": r.stored_status,
        "endpoint": r.endpoint, "model": r.model, "simulated": r.simulated, "result_n": r.result_n,
        "result_final": r.result_final, "tier": r.tier, "headline": r.headline, "note": r.note,
        "annotations": r.annotations, "first_annotation": r.first_annotation,
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
    info = run.info
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
    field("endpoint", info.endpoint + ("  SIMULATED" if info.simulated else ""))
    field("model", info.model or "—")
    field("result", info.headline)
    head = headline(run.summary)
    field("per GPU", f"{_num(head.agents_per_gpu)} agents/GPU ({_num(head.gpus)} GPUs)")
    power = f"GPU power {_num(head.mean_power_w)} W at {head.at}"
    field("per MW", f"{_num(head.agents_per_mw)} agents/MW ({power})")
    if info.note:
        field("note", info.note)
    if info.writer_host:
        field("written by", f"{info.writer_host} pid {info.writer_pid}")
    req = run.requests
    failed = int((~req.ok).sum())
    field("requests", f"{len(req)} ({len(req) - failed} ok, {failed} failed)")
    if failed:
        kinds = Counter(str(e) if e is not None else "no error text" for e in req.error[~req.ok])
        for text, count in kinds.most_common(5):
            lines.append(f"{'':<12}{count:>6} × {text[:90]}")
    if run.levels:
        lines.append("\nlevels")
        rows = [
            [
                str(lv.index), str(lv.n), lv.phase, lv.verdict, str(lv.requests), str(lv.failed),
                _with_bounds(lv.speed_p25, lv.speed_p25_bounds),
                _with_bounds(lv.ttft_p95, lv.ttft_p95_bounds),
                _num(lv.confidence), _num(lv.mean_power_w), lv.reason or lv.power_note or "",
            ]
            for lv in run.levels
        ]  # fmt: skip
        header = [
            "#",
            "N",
            "PHASE",
            "VERDICT",
            "REQS",
            "FAIL",
            "P25 SPEED",
            "P95 TTFT",
            "CONF",
            "POWER W",
            "REASON",
        ]
        lines.append(_table(header, rows, clip=(0,) * 10 + (60,)))
    if run.annotations:
        lines.append("\nannotations")
        for a in run.annotations:
            at = f"t={a.t:8.1f}s" if a.t is not None else "after run "
            lines.append(f"  {at}  {_when(a.wall)}  {a.text}")
    tel = run.telemetry
    if len(tel):
        sources = ", ".join(sorted({str(s) for s in tel.source}))
        lines.append(f"\ntelemetry   {len(tel)} samples, GPUs {', '.join(tel.gpus())} ({sources})")
    else:
        lines.append("\ntelemetry   none recorded")
    srv = run.server_metrics
    if len(srv):
        lines.append(f"server      {len(srv)} readings: {', '.join(srv.names())}")
    return "\n".join(lines)


def _with_bounds(value: float, bounds: tuple[float, float]) -> str:
    if math.isnan(value):
        return "—"
    lo, hi = bounds
    if math.isnan(lo) and math.isnan(hi):
        return _num(value)
    return f"{_num(value)} [{_num(lo)}, {_num(hi)}]"


# ---------------------------------------------------------------- export / annotate / compare


@_guarded
def cmd_export(args: argparse.Namespace) -> int:
    store = _store(args)
    run_id = resolve_run_id(store, args.run)
    if args.format == "json":
        written = [export_json(store, run_id, args.out or Path(f"{run_id}.json"))]
    else:
        written = export_csv(store, run_id, args.out or Path(f"{run_id}-csv"))
    for path in written:
        print(path)
    return 0


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
    print(format_comparison(compare_runs(a, b)))
    return 0


def format_comparison(diffs: Sequence[Difference]) -> str:
    rows = []
    for d in diffs:
        mark = {"a": "A", "b": "B"}.get(d.better or "", "")
        rows.append([d.field, _value(d.a), _value(d.b), "" if d.delta is None else _signed(d.delta), mark])
    return _table(["", "A", "B", "B - A", "BETTER"], rows, clip=(40, 40, 40, 0, 0))


# ---------------------------------------------------------------- formatting


def _value(x: Any) -> str:
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return _num(x)
    if x is None:
        return "—"
    if isinstance(x, dict | list):
        return orjson.dumps(x).decode()
    return str(x)


def _num(x: float | int | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, int):
        return str(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.4g}" if abs(x) < 1e6 else f"{x:.3e}"


def _signed(x: float) -> str:
    text = _num(x)
    return text if text.startswith("-") else f"+{text}"


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
