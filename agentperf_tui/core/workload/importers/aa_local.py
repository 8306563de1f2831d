"""Import Artificial Analysis `agentperf-local` replay traces (manifest.json + traces/*.jsonl).

Each source row is one model call carrying the FULL `messages` history. The converted turn keeps
only what changed: the messages added since the previous row (normally the previous assistant
reply as recorded plus the tool results), `drop_last` when the previous row ended with messages
that this row replaces (a per-turn harness reminder), or a compaction holding the whole context
when earlier conversation was rewritten.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from ..trajectory import (
    Message,
    TextTurn,
    TrajectoryError,
    TrajectoryHeader,
    write_trajectory,
)
from .common import ImportReport, prepare_out_dir, safe_filename

IMPORTER = "aa-agentperf-local"
LICENCE = "Apache-2.0"


def find_manifest(src: Path | str) -> Path:
    """`src` is a manifest.json or a directory holding one."""
    p = Path(src)
    if p.is_dir():
        p = p / "manifest.json"
    if not p.is_file():
        raise TrajectoryError(
            p, None, None, "no agentperf-local manifest.json here; pass the manifest or its folder"
        )
    return p


def _read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = path.open("rb")
    except OSError as e:
        raise TrajectoryError(path, None, None, f"cannot open trace: {e.strerror or e}") from e
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                row = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise TrajectoryError(path, lineno, None, f"malformed JSON ({e})") from e
            if not isinstance(row, dict):
                raise TrajectoryError(path, lineno, None, "each line must be a JSON object")
            yield lineno, row


def _int_field(path: Path, lineno: int, row: dict[str, Any], name: str, *, minimum: int) -> int | None:
    value = row.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise TrajectoryError(path, lineno, name, f"expected an integer >= {minimum}, found {value!r}")
    return value


def _common_prefix(a: list[Any], b: list[Any]) -> int:
    n = min(len(a), len(b))
    for k in range(n):
        if a[k] != b[k]:
            return k
    return n


def delta(prev: list[dict[str, Any]], cur: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, bool]:
    """(append, drop_last, compacted) that turn conversation `prev` into `cur`.

    Plain growth is an append. When only trailing non-assistant messages of `prev` were replaced,
    they are dropped (`drop_last`). When an assistant message, i.e. recorded conversation, was
    rewritten or removed, the turn is a compaction carrying the whole of `cur`.
    """
    keep = _common_prefix(prev, cur)
    dropped = prev[keep:]
    if not dropped:
        return cur[keep:], 0, False
    if keep > 0 and all(m.get("role") != "assistant" for m in dropped):
        return cur[keep:], len(dropped), False
    return cur, 0, True


def _messages(path: Path, lineno: int, row: dict[str, Any]) -> list[dict[str, Any]]:
    msgs = row.get("messages")
    if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
        raise TrajectoryError(path, lineno, "messages", "expected a non-empty list of chat message objects")
    return msgs


def _validate_messages(path: Path, lineno: int, msgs: list[dict[str, Any]], *, offset: int) -> list[Message]:
    out = []
    for j, m in enumerate(msgs):
        try:
            out.append(Message.model_validate(m))
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(x) for x in (offset + j, *first.get("loc", ())))
            raise TrajectoryError(path, lineno, f"messages.{where}", str(first.get("msg"))) from e
    return out


def convert_task(manifest_path: Path, manifest: dict[str, Any], task: dict[str, Any]) -> tuple[
    TrajectoryHeader, list[TextTurn], list[str]
]:
    """Convert one task's trace; returns its header, turns and notes for the user."""
    task_id = task.get("task_id")
    trace = task.get("trace")
    if not isinstance(task_id, str) or not task_id:
        raise TrajectoryError(manifest_path, None, "tasks.task_id", "each task needs a task_id string")
    if not isinstance(trace, str):
        raise TrajectoryError(manifest_path, None, "tasks.trace", f"task {task_id}: needs a trace path")
    trace_path = manifest_path.parent / trace
    notes: list[str] = []
    prev: list[dict[str, Any]] = []
    turns_raw: list[dict[str, Any]] = []
    tools_seen: list[bytes] = []
    tools_by_key: dict[bytes, list[dict[str, Any]] | None] = {}
    for lineno, row in _read_rows(trace_path):
        i = len(turns_raw)
        idx = row.get("conversation_idx")
        if idx is not None and idx != i:
            raise TrajectoryError(
                trace_path, lineno, "conversation_idx", f"expected {i}, found {idx!r}: rows out of order"
            )
        msgs = _messages(trace_path, lineno, row)
        target = _int_field(trace_path, lineno, row, "target_output_tokens", minimum=1)
        if target is None:
            raise TrajectoryError(
                trace_path, lineno, "target_output_tokens", "missing: each row needs its output length"
            )
        delay_ms = row.get("simulated_tool_delay_ms_after") or 0
        if not isinstance(delay_ms, int | float) or delay_ms < 0:
            raise TrajectoryError(
                trace_path, lineno, "simulated_tool_delay_ms_after",
                f"expected milliseconds >= 0, found {delay_ms!r}",
            )
        tools = row.get("tools")
        if tools is not None and not isinstance(tools, list):
            raise TrajectoryError(trace_path, lineno, "tools", "expected a list of tool definitions")
        key = orjson.dumps(tools or [], option=orjson.OPT_SORT_KEYS)
        tools_by_key.setdefault(key, tools or [])
        tools_seen.append(key)
        append, drop_last, compacted = delta(prev, msgs) if i else (msgs, 0, False)
        append_msgs = _validate_messages(trace_path, lineno, append, offset=len(msgs) - len(append))
        turns_raw.append(
            {
                "i": i,
                "append": append_msgs,
                "drop_last": drop_last,
                "compacted": compacted,
                "output_tokens": target,
                "tool_delay_s": float(delay_ms) / 1000.0,
                "recorded_prompt_tokens": _int_field(
                    trace_path, lineno, row, "recorded_prompt_tokens", minimum=0
                ),
                "recorded_output_tokens": _int_field(
                    trace_path, lineno, row, "recorded_completion_tokens", minimum=0
                ),
            }
        )
        prev = msgs
    if not turns_raw:
        raise TrajectoryError(trace_path, None, None, "trace has no rows")
    header_key = Counter(tools_seen).most_common(1)[0][0]
    header_tools = tools_by_key[header_key] or None
    turns = [
        TextTurn(**raw, tools=None if key == header_key else tools_by_key[key])
        for raw, key in zip(turns_raw, tools_seen, strict=True)
    ]
    expected = task.get("model_calls")
    if isinstance(expected, int) and expected != len(turns):
        notes.append(f"{task_id}: manifest says {expected} model calls, trace has {len(turns)} rows")
    compactions = sum(t.compacted for t in turns)
    if compactions:
        notes.append(f"{task_id}: {compactions} turn(s) rewrite earlier conversation, stored as compactions")
    required = task.get("required_context_tokens")
    header = TrajectoryHeader(
        format="agentperf-traj/1",
        id=task_id,
        kind="text",
        source={
            "importer": IMPORTER,
            "manifest": str(manifest_path),
            "manifest_name": manifest.get("name"),
            "task_id": task_id,
            "trace": trace,
            "family": task.get("family"),
            "licence": LICENCE,
        },
        required_context_tokens=required if isinstance(required, int) and required >= 0 else None,
        tools=header_tools,
    )
    return header, turns, notes


def load_manifest(manifest_path: Path) -> dict[str, Any]:
    try:
        manifest = orjson.loads(manifest_path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise TrajectoryError(manifest_path, None, None, f"malformed JSON ({e})") from e
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tasks"), list):
        raise TrajectoryError(manifest_path, None, "tasks", "expected an object with a 'tasks' list")
    return manifest


def import_aa_local(src: Path | str, out_dir: Path | str, *, overwrite: bool = False) -> ImportReport:
    """Convert every task of an agentperf-local manifest into one text trajectory file each."""
    manifest_path = find_manifest(src)
    manifest = load_manifest(manifest_path)
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    report = ImportReport(out_dir=out)
    for task in manifest["tasks"]:
        if not isinstance(task, dict):
            raise TrajectoryError(manifest_path, None, "tasks", "each task must be an object")
        header, turns, notes = convert_task(manifest_path, manifest, task)
        path = out / f"{safe_filename(header.id)}.jsonl"
        write_trajectory(path, header, turns)
        report.files.append(path)
        report.turns += len(turns)
        report.notes.extend(notes)
    return report
