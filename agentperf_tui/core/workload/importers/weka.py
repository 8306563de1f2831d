"""Import Weka agentic-coding traces (the kv-cache-tester capture format the SemiAnalysis AgentX
benchmark publishes) as agentperf-traj/2 trees.

A trace is one JSON object: `id`, `block_size`, `hash_id_scope`, and `requests`, an ordered list
of model calls (`type` "n" or "s": `t`, `in`, `out`, `hash_ids`, `api_time`, `think_time`,
`input_types`, `stop`, `model`) and sub-agent markers (`type` "subagent": `t`, `agent_id`,
`subagent_type`, `status`, and their own nested `requests`). A file holds one trace (`.json`) or
one per line (`.jsonl`); a directory is searched for both.

Conversion (see importers/tree_build.py for what all tree importers share):
- the top-level calls are the main agent; each marker is a sub-agent spawned by the last main
  call listed before it (a marker before any call cannot be placed and is dropped), nested
  markers likewise one level down;
- `status: "async_launched"` sub-agents are detached; the others join the first parent call that
  started after their last call ended;
- sub-agent call times are relative to their marker in raw kv-cache-tester traces and absolute
  in published AgentX traces: a trace where any sub-agent call is earlier than its marker is
  read as relative, any other as absolute (the choice is reported);
- the gap before a call is tool time when its input is a tool result (`input_types` holds
  "tool_result", or the previous call stopped for `tool_use`), human think time when the input
  is other content, tool time when the trace does not say;
- `hash_ids` become `block_hashes` (`hash_id_scope` "local": scoped to the trajectory, "global":
  to the set), `api_time` the recorded duration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..trajectory import ROOT, TrajectoryError, write_trajectory
from .common import ImportReport, prepare_out_dir, safe_filename
from .tree_build import EPS, Notes, RecNode, RecRequest, TreeBuilder, unique_id

IMPORTER = "weka"


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class WekaCall(_Model):
    t: Annotated[float, Field(ge=0)]
    type: Literal["n", "s"]
    model: str = ""
    in_: Annotated[int, Field(ge=0, alias="in")]
    out: Annotated[int, Field(ge=0)]
    hash_ids: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list)
    input_types: list[str] = Field(default_factory=list)
    output_types: list[str] = Field(default_factory=list)
    stop: str | None = None
    api_time: Annotated[float, Field(ge=0)] | None = None
    think_time: Annotated[float, Field(ge=0)] | None = None
    ttft: float | None = None


class WekaSubagent(_Model):
    t: Annotated[float, Field(ge=0)]
    type: Literal["subagent"]
    agent_id: str
    subagent_type: str = ""
    status: str = "completed"
    duration_ms: int | None = None
    requests: list[WekaEntry]
    models: list[str] = Field(default_factory=list)
    tool_tokens: int = 0
    system_tokens: int = 0


WekaEntry = Annotated[WekaCall | WekaSubagent, Field(discriminator="type")]


class WekaTrace(_Model):
    id: Annotated[str, Field(min_length=1)]
    models: list[str] = Field(default_factory=list)
    block_size: Annotated[int, Field(gt=0)]
    hash_id_scope: Literal["local", "global"] = "local"
    tool_tokens: int = 0
    system_tokens: int = 0
    requests: list[WekaEntry]
    totals: dict[str, Any] | None = None


WekaSubagent.model_rebuild()


def _files(src: Path) -> list[Path]:
    if src.is_dir():
        found = sorted([*src.rglob("*.json"), *src.rglob("*.jsonl")])
        if not found:
            raise TrajectoryError(src, None, None, "no *.json or *.jsonl Weka traces in this directory")
        return found
    if not src.exists():
        raise TrajectoryError(src, None, None, "cannot open: no such file or directory")
    return [src]


def _traces(path: Path) -> list[tuple[int | None, Any]]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TrajectoryError(path, None, None, f"cannot open: {e.strerror or e}") from e
    if path.suffix == ".jsonl":
        out: list[tuple[int | None, Any]] = []
        for ln, raw in enumerate(data.splitlines(), start=1):
            if raw.strip():
                out.append((ln, _json(path, ln, raw)))
        return out
    return [(None, _json(path, None, data))]


def _json(path: Path, line: int | None, raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise TrajectoryError(path, line, None, f"malformed JSON ({e})") from e


def _validate(path: Path, line: int | None, obj: Any) -> WekaTrace:
    if not isinstance(obj, dict):
        raise TrajectoryError(path, line, None, "a Weka trace is one JSON object with `id`, `block_size` and "
                              "`requests`")
    try:
        return WekaTrace.model_validate(obj)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise TrajectoryError(path, line, field, str(first.get("msg", "invalid value"))) from e


def _relative(entries: list[WekaCall | WekaSubagent]) -> bool:
    """Whether any sub-agent call is earlier than its marker (raw kv-cache-tester timing)."""
    for e in entries:
        if isinstance(e, WekaSubagent) and (
            any(c.t < e.t - EPS for c in e.requests if isinstance(c, WekaCall)) or _relative(e.requests)
        ):
            return True
    return False


class _Converter:
    def __init__(self, trace: WekaTrace, notes: Notes) -> None:
        self.trace = trace
        self.notes = notes
        self.relative = _relative(trace.requests)
        self.nodes: list[RecNode] = []
        self.taken: set[str] = {ROOT}
        self.extra: set[str] = set()

    def _call(self, c: WekaCall, base: float, prev: WekaCall | None) -> RecRequest:
        self.extra.update(c.model_extra or {})
        if c.ttft is not None:
            self.extra.add("ttft")
        if c.input_types:
            human: bool | None = "tool_result" not in c.input_types
        elif prev is not None and prev.stop == "tool_use":
            human = False
        else:
            human = None
        return RecRequest(start=base + c.t, duration=c.api_time, prompt_tokens=c.in_, output_tokens=c.out,
                          hashes=list(c.hash_ids), human_input=human, gap_s=c.think_time)

    def node(self, node_id: str, parent: str | None, entries: list[WekaCall | WekaSubagent], base: float,
             marker: WekaSubagent | None, at_turn: int | None) -> None:
        reqs: list[RecRequest] = []
        subs: list[tuple[WekaSubagent, int | None]] = []
        prev: WekaCall | None = None
        for e in entries:
            if isinstance(e, WekaCall):
                reqs.append(self._call(e, base, prev))
                prev = e
            else:
                subs.append((e, len(reqs) - 1 if reqs else None))
        if not reqs:
            self.notes["{n} sub-agents had no model calls and were dropped"] += 1
            return
        rec = RecNode(id=node_id, parent=parent, requests=reqs, at_turn=at_turn)
        if marker is not None:
            self.extra.update(marker.model_extra or {})
            rec.spawn_t = base if self.relative else marker.t
            rec.detached = marker.status == "async_launched"
            rec.label = marker.subagent_type or None
            rec.source = {"agent_id": marker.agent_id, "status": marker.status, "models": marker.models}
            if rec.detached:
                self.notes["{n} sub-agents were launched asynchronously (async_launched): replayed "
                           "detached"] += 1
        self.nodes.append(rec)
        for sub, anchor in subs:
            if anchor is None:
                self.notes["{n} sub-agents came before any call of their parent and were dropped"] += 1
                continue
            sub_base = base + sub.t if self.relative else 0.0
            self.node(unique_id(sub.agent_id, self.taken), node_id, sub.requests, sub_base, sub, anchor)


def import_weka(src: Path | str, out_dir: Path | str, *, overwrite: bool = False) -> ImportReport:
    """Convert Weka traces (a file or a directory of them) to one agentperf-traj/2 file per trace."""
    src_p = Path(src)
    files = _files(src_p)
    parsed = [(f, ln, _validate(f, ln, obj)) for f in files for ln, obj in _traces(f)]
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    report = ImportReport(out_dir=out)
    notes = Notes()
    extra: set[str] = set()
    relative = 0
    seen: dict[str, str] = {}
    models: set[str] = set()
    for f, ln, trace in parsed:
        where = f"{f}:{ln}" if ln is not None else str(f)
        if trace.id in seen:
            raise TrajectoryError(f, ln, "id", f"trace id {trace.id!r} is also used by {seen[trace.id]}")
        seen[trace.id] = where
        conv = _Converter(trace, notes)
        relative += conv.relative
        extra.update(trace.model_extra or {})
        if trace.totals is not None:
            extra.add("totals")
        conv.node(ROOT, None, trace.requests, 0.0, None, None)
        if not conv.nodes:
            notes["{n} traces had no top-level model calls and were skipped"] += 1
            continue
        extra |= conv.extra
        models.update(trace.models)
        builder = TreeBuilder(notes, block_size=trace.block_size,
                              hash_scope="trajectory" if trace.hash_id_scope == "local" else "set")
        built = builder.build(
            trace.id, conv.nodes, system_prompt_tokens=trace.system_tokens + trace.tool_tokens,
            source={"importer": IMPORTER, "file": str(f), **({"line": ln} if ln is not None else {}),
                    "trace_id": trace.id, "models": trace.models,
                    "subagent_timestamps": "relative" if conv.relative else "absolute"},
        )
        path = out / f"{safe_filename(trace.id)}.jsonl"
        write_trajectory(path, built.header, built.turns, built.subagents)
        report.files.append(path)
        report.turns += len(built.turns) + sum(len(s.turns) for s in built.subagents)
    if relative:
        report.notes.append(f"{relative} of {len(parsed)} traces time their sub-agent calls from the "
                            "sub-agent marker (raw kv-cache-tester); the others absolutely (published "
                            "AgentX)")
    report.notes.extend(notes.lines())
    if len(models) > 1:
        report.notes.append(f"the traces name {len(models)} models ({', '.join(sorted(models))}); a replay "
                            "sends every request to the one model under test")
    report.notes.append("not carried over: per-request model names, streaming flag (`type`), stop reasons "
                        "and output types (the reasoning share of the output is unknown: replayed as visible "
                        "output)" + (f"; also ignored: {', '.join(sorted(extra))}" if extra else ""))
    return report
