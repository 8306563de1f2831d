"""Import Mooncake-style request traces as agentperf-traj/2 trajectories with block hashes.

Each line is one request: `timestamp` (arrival, milliseconds), `input_length`, `output_length`
and `hash_ids` (the prompt's blocks, `block_size` tokens each: 512 in Mooncake's published
traces; remapped so that equal ids mean equal content across the whole file). The multi-turn
variant adds `session_id` and `delay` (milliseconds to wait after the previous turn of the
session).

Sessions:
- rows with a `session_id` form that session, in file order; `delay` becomes the previous
  turn's tool delay;
- rows without one are chained by their hashes: a request continues the session whose latest
  request's full blocks are a prefix of its own (the longest such), as a multi-turn conversation
  re-sends its history; any other request starts a session. Arrival gaps include the recording's
  server time, so they are not tool delays: those sessions have none (the engine's
  `--tool-delay baseline` supplies delays).
Hashes are global (`hash_scope: "set"`): content shared between sessions is counted, and
reported, but a replay isolates each trajectory with its dynamic prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..trajectory import ROOT, Trajectory, TrajectoryError, write_trajectory
from ..tree_stats import shared_across
from .common import ImportReport, prepare_out_dir, safe_filename
from .tree_build import Notes, RecNode, RecRequest, TreeBuilder

IMPORTER = "mooncake"
MOONCAKE_BLOCK_SIZE = 512


class MooncakeRow(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    timestamp: Annotated[float, Field(ge=0)] | None = None
    input_length: Annotated[int, Field(ge=0)] | None = None
    output_length: Annotated[int, Field(ge=0)] = 1
    hash_ids: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list)
    session_id: str | int | None = None
    delay: Annotated[float, Field(ge=0)] | None = None
    text_input: str | None = None


@dataclass
class _Row:
    line: int
    row: MooncakeRow


def _rows(path: Path) -> list[_Row]:
    try:
        fh = path.open("rb")
    except OSError as e:
        raise TrajectoryError(path, None, None, f"cannot open: {e.strerror or e}") from e
    out: list[_Row] = []
    with fh:
        for ln, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj: Any = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise TrajectoryError(path, ln, None, f"malformed JSON ({e})") from e
            try:
                out.append(_Row(ln, MooncakeRow.model_validate(obj)))
            except ValidationError as e:
                first = e.errors()[0]
                field = ".".join(str(p) for p in first.get("loc", ())) or None
                raise TrajectoryError(path, ln, field, str(first.get("msg", "invalid value"))) from e
    if not out:
        raise TrajectoryError(path, None, None, "no requests in this file")
    return out


def _chains(rows: list[_Row], block: int) -> list[list[_Row]]:
    """Sessions of rows without session ids, found by hash prefixes (see module docstring)."""
    ordered = sorted(rows, key=lambda r: (r.row.timestamp or 0.0, r.line))
    chains: list[list[_Row]] = []
    tails: dict[int, int] = {}
    """last full-block hash of a session's latest request -> session index"""
    for r in ordered:
        hashes = r.row.hash_ids
        found = None
        for n in range(len(hashes), 0, -1):
            c = tails.get(hashes[n - 1])
            if c is None:
                continue
            last = chains[c][-1].row
            full = last.hash_ids[: (last.input_length or 0) // block]
            if len(full) == n and full == hashes[:n]:
                found = c
                break
        if found is None:
            chains.append([r])
            found = len(chains) - 1
        else:
            old = chains[found][-1].row
            old_full = old.hash_ids[: (old.input_length or 0) // block]
            if old_full and tails.get(old_full[-1]) == found:
                del tails[old_full[-1]]
            chains[found].append(r)
        full = hashes[: (r.row.input_length or 0) // block]
        if full:
            tails[full[-1]] = found
    return chains


def import_mooncake(src: Path | str, out_dir: Path | str, *, block_size: int = MOONCAKE_BLOCK_SIZE,
                    overwrite: bool = False) -> ImportReport:
    """Convert one Mooncake-style JSONL trace to one trajectory per session."""
    path = Path(src)
    rows = _rows(path)
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    report = ImportReport(out_dir=out)
    notes = Notes()
    usable: list[_Row] = []
    for r in rows:
        if r.row.input_length is None:
            notes["{n} rows carry text (`text_input`) or no `input_length` and were skipped"] += 1
        else:
            usable.append(r)
    if not usable:
        raise TrajectoryError(path, None, "input_length", "no row has an input_length")
    sessions: dict[str, list[_Row]] = {}
    loose: list[_Row] = []
    for r in usable:
        if r.row.session_id is None:
            loose.append(r)
        else:
            sessions.setdefault(str(r.row.session_id), []).append(r)
    groups: list[tuple[str, list[_Row], bool]] = [(sid, rs, True) for sid, rs in sessions.items()]
    width = max(4, len(str(len(loose))))
    groups += [(f"{path.stem}-s{k:0{width}d}", rs, False) for k, rs in enumerate(_chains(loose, block_size))]
    if loose:
        notes["{n} requests had no session id: grouped into sessions by shared hash prefixes, with no "
              "tool delays (arrival gaps include the recording's server time)"] += len(loose)
    written: list[Trajectory] = []
    taken: set[str] = set()
    for sid, rs, explicit in groups:
        reqs = [RecRequest(start=None, duration=None, prompt_tokens=r.row.input_length or 0,
                           output_tokens=r.row.output_length, hashes=list(r.row.hash_ids),
                           gap_s=(r.row.delay or 0.0) / 1000.0 if explicit else 0.0) for r in rs]
        traj_id = sid if sid not in taken else f"{sid}~{len(taken)}"
        taken.add(traj_id)
        builder = TreeBuilder(notes, block_size=block_size, hash_scope="set")
        built = builder.build(traj_id, [RecNode(id=ROOT, parent=None, requests=reqs)], source={
            "importer": IMPORTER, "file": str(path), "lines": [r.line for r in rs],
            "session": "recorded" if explicit else "hash-prefix chain",
        } | ({"first_timestamp_ms": rs[0].row.timestamp} if rs[0].row.timestamp is not None else {}))
        target = out / f"{safe_filename(traj_id)}.jsonl"
        write_trajectory(target, built.header, built.turns)
        written.append(Trajectory(header=built.header, turns=tuple(built.turns)))
        report.files.append(target)
        report.turns += len(built.turns)
    report.notes.extend(notes.lines())
    shared = shared_across(written)
    if shared is not None and shared.across:
        report.notes.append(f"{shared.across} of {shared.distinct} distinct blocks occur in more than one "
                            "session (a shared system prompt, say); a replay starts every trajectory with "
                            "its own dynamic prefix, so that reuse across sessions is not reproduced")
    return report
