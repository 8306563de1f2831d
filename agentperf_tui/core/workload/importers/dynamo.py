"""Import NVIDIA Dynamo request traces (`dynamo.request.trace.v1`) as agentperf-traj/2 trees.

Dynamo's frontend writes one record per line (`DYN_REQUEST_TRACE`; plain or gzip JSONL, each
line either the bare record or the file sink's envelope `{"timestamp": ..., "event": record}`).
A `request_end` record carries the caller's `agent_context` (which agent trajectory sent it and
its parent trajectory) and `request`: `request_received_ms`, `total_time_ms`, `input_tokens`,
`output_tokens`, `cached_tokens` and `replay` (`trace_block_size`, `input_length`,
`input_sequence_hashes`: the prompt's KV block hashes).

The agent context's names changed between Dynamo releases; a trajectory is identified by
`trajectory_id` (else `program_id`, else `session_id`, else `workflow_id`) and its parent by
`parent_trajectory_id` (else `parent_program_id`, else `parent_session_id`). Each trajectory
without a parent in the capture is the main agent of one tree; its sub-agents hang off the
parent request whose reply ended last before they started and join the first parent request
sent after they finished (importers/tree_build.py).

Not carried over: records without agent context (they belong to no agent; convert them with
Dynamo's own Mooncake converter and import that), tool events (the gaps between requests
already hold tool time), per-request worker, queue and latency metrics.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..lines import bounded_lines
from ..trajectory import ROOT, TrajectoryError, write_trajectory
from .common import ImportReport, prepare_out_dir, safe_filename
from .tree_build import Notes, RecNode, RecRequest, TreeBuilder, unique_id

IMPORTER = "dynamo"
SCHEMA = "dynamo.request.trace.v1"
_NODE_KEYS = ("trajectory_id", "program_id", "session_id", "workflow_id")
_PARENT_KEYS = ("parent_trajectory_id", "parent_program_id", "parent_session_id")


@dataclass
class _Agent:
    key: str
    parent: str | None
    requests: list[RecRequest] = field(default_factory=list)
    block_sizes: set[int] = field(default_factory=set)
    session: str | None = None


def _files(src: Path) -> list[Path]:
    if src.is_dir():
        found = sorted([*src.glob("*.jsonl"), *src.glob("*.jsonl.gz")])
        if not found:
            raise TrajectoryError(src, None, None, "no *.jsonl or *.jsonl.gz request traces in this "
                                  "directory")
        return found
    if not src.exists():
        raise TrajectoryError(src, None, None, "cannot open: no such file or directory")
    return [src]


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            yield from bounded_lines(fh, path)
    except FileNotFoundError as e:
        raise TrajectoryError(path, None, None, f"cannot open: {e.strerror or e}") from e
    except (EOFError, OSError) as e:
        raise TrajectoryError(path, None, None, f"unreadable ({e}); a truncated or corrupt gzip "
                              "stream?") from e


def _first(d: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for k in keys:
        v = d.get(k)
        if v not in (None, ""):
            return str(v)
    return None


def _num(d: dict[str, Any], key: str, path: Path, ln: int) -> float | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
        raise TrajectoryError(path, ln, f"request.{key}", f"expected a non-negative number, found {v!r}")
    return float(v)


def _request(req: dict[str, Any], event_ms: float, path: Path, ln: int, notes: Notes
             ) -> tuple[RecRequest, int | None] | None:
    replay = req.get("replay") if isinstance(req.get("replay"), dict) else None
    prompt = _num(replay, "input_length", path, ln) if replay else None
    if prompt is None:
        prompt = _num(req, "input_tokens", path, ln)
    output = _num(req, "output_tokens", path, ln)
    if prompt is None or output is None:
        notes["{n} request records had no input or output token count and were skipped"] += 1
        return None
    received = _num(req, "request_received_ms", path, ln)
    total = _num(req, "total_time_ms", path, ln)
    if received is None and total is not None:
        received = event_ms - total
    if total is None and received is not None:
        total = event_ms - received
    hashes: list[int] | None = None
    block: int | None = None
    if replay is not None:
        raw = replay.get("input_sequence_hashes")
        size = replay.get("trace_block_size")
        if not isinstance(raw, list) or not all(isinstance(h, int) and h >= 0 for h in raw):
            raise TrajectoryError(path, ln, "request.replay.input_sequence_hashes",
                                  "expected a list of non-negative integers")
        if not isinstance(size, int) or size < 1:
            raise TrajectoryError(path, ln, "request.replay.trace_block_size",
                                  f"expected a positive integer, found {size!r}")
        hashes, block = list(raw), size
    cached = _num(req, "cached_tokens", path, ln)
    rec = RecRequest(
        start=None if received is None else received / 1000.0,
        duration=None if total is None else total / 1000.0,
        prompt_tokens=int(prompt), output_tokens=int(output), hashes=hashes,
        cached_tokens=None if cached is None else int(cached),
    )
    return rec, block


def _read(files: list[Path], notes: Notes) -> dict[str, _Agent]:
    agents: dict[str, _Agent] = {}
    for path in files:
        for ln, raw in _lines(path):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise TrajectoryError(path, ln, None, f"malformed JSON ({e})") from e
            if not isinstance(obj, dict):
                raise TrajectoryError(path, ln, None, "each line must be a JSON object")
            if "schema" not in obj and isinstance(obj.get("event"), dict):
                obj = obj["event"]
            if "schema" not in obj:
                continue  # a sink's control line, not a record
            if obj["schema"] != SCHEMA:
                raise TrajectoryError(path, ln, "schema", f"expected {SCHEMA!r}, found {obj['schema']!r}")
            kind = obj.get("event_type")
            if kind != "request_end":
                if isinstance(kind, str) and kind.startswith("tool_"):
                    notes["{n} tool events were not needed (request gaps already hold tool time)"] += 1
                continue
            req = obj.get("request")
            if not isinstance(req, dict):
                raise TrajectoryError(path, ln, "request", "a request_end record needs a `request` object")
            ctx = obj.get("agent_context") if isinstance(obj.get("agent_context"), dict) else None
            key = _first(ctx, _NODE_KEYS) if ctx else None
            if key is None:
                notes["{n} request records had no agent context (no agent to replay them as)"] += 1
                continue
            event_ms = _num(obj, "event_time_unix_ms", path, ln) or 0.0
            got = _request(req, event_ms, path, ln, notes)
            if got is None:
                continue
            rec, block = got
            assert ctx is not None
            agent = agents.setdefault(key, _Agent(key, _first(ctx, _PARENT_KEYS), session=_first(
                ctx, ("session_id", "workflow_id"))))
            agent.requests.append(rec)
            if block is not None:
                agent.block_sizes.add(block)
    return agents


def import_dynamo(src: Path | str, out_dir: Path | str, *, overwrite: bool = False) -> ImportReport:
    """Convert Dynamo request traces (a file or a directory of segments) to one tree per main agent."""
    files = _files(Path(src))
    notes = Notes()
    agents = _read(files, notes)
    if not agents:
        raise TrajectoryError(Path(src), None, None, "no request records with an agent context")
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    report = ImportReport(out_dir=out)
    for a in agents.values():
        if a.parent is not None and (a.parent not in agents or a.parent == a.key):
            notes["{n} trajectories name a parent that is not in the capture: imported as trees of their "
                  "own"] += 1
            a.parent = None
    kids: dict[str, list[_Agent]] = {}
    for a in agents.values():
        if a.parent is not None:
            kids.setdefault(a.parent, []).append(a)
    for root in (a for a in agents.values() if a.parent is None):
        members: list[_Agent] = []
        stack = [root]
        while stack:
            a = stack.pop()
            members.append(a)
            stack.extend(kids.get(a.key, []))
        sizes = set().union(*(m.block_sizes for m in members))
        block = next(iter(sizes)) if len(sizes) == 1 else None
        if len(sizes) > 1:
            notes["{n} trees mixed KV block sizes: imported without block hashes"] += 1
        taken: set[str] = {ROOT}
        ids = {root.key: ROOT} | {m.key: unique_id(m.key, taken) for m in members if m is not root}
        nodes = [RecNode(id=ids[m.key], parent=None if m is root else ids[m.parent or ""],
                         requests=m.requests, label=None, source={"trajectory_id": m.key}) for m in members]
        builder = TreeBuilder(notes, block_size=block, hash_scope="set")
        built = builder.build(root.key, nodes, source={
            "importer": IMPORTER, "files": [str(f) for f in files], "trajectory_id": root.key,
            "session_id": root.session,
        })
        path = out / f"{safe_filename(root.key)}.jsonl"
        write_trajectory(path, built.header, built.turns, built.subagents)
        report.files.append(path)
        report.turns += len(built.turns) + sum(len(s.turns) for s in built.subagents)
    report.notes.extend(notes.lines())
    report.notes.append("not carried over: the split of gaps between tool time and human think time (all "
                        "gaps are replayed as tool time), per-request worker, queue and latency metrics")
    return report
