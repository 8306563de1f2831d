"""Import TraceLab round traces (one JSON object per LLM round, token counts only).

TraceLab (SyFI Lab, University of Washington; attribute "TraceLab, uw-syfi") publishes sanitized
Claude Code and Codex sessions under CC BY 4.0. Its full release is hundreds of megabytes, so the
file is streamed: rows of many sessions may be interleaved, each session keeps only a few numbers
of state, and converted turns go to a per-session spill file on disk as soon as they are ready.

Per round the importer keeps:
- `cached_prefix_tokens` = `prefix_tokens` (the cache-read count the provider reported) and
  `new_input_tokens` = `newly_append_tokens`; their sum is `input_tokens_total`.
- `output_tokens` (which includes reasoning) and `reasoning_tokens` = `reasoning_output_tokens`.
- `tool_delay_s` after the round: from the end of the model's reply (the last tool call emitted)
  to the last tool result: max(result_at) - max(emitted_at). Tools that ran while the reply was
  still streaming do not add time; a missing `result_at` is `emitted_at + tool_wall_latency_ms`.
- `think_time_s` before a round whose `first_input_event_type` is `user_message`: from the end of
  the previous round (its last event or tool result) to the user's message. Human time is kept
  apart from tool time; round 0 has none.
- `compacted` when the prompt shrinks by more than COMPACTION_SHRINK of the previous prompt.
  Smaller shrinks (a harness dropping old reasoning) are not compactions: the prefix reported by
  the provider lags the context on almost every round, so it cannot be the signal.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ..trajectory import TokenTurn, TrajectoryError, TrajectoryHeader, turn_to_json
from .common import ImportReport, prepare_out_dir, safe_filename

IMPORTER = "tracelab"
ATTRIBUTION = "TraceLab, uw-syfi"
LICENCE = "CC BY 4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
HOMEPAGE = "https://tracelab.cs.washington.edu"
COMPACTION_SHRINK = 0.10
"""A prompt smaller than (1 - this) x the previous prompt is a context compaction."""


@dataclass(slots=True)
class _Round:
    """The few numbers of one source row that conversion needs."""

    lineno: int
    index: int
    input_total: int
    prefix: int
    new: int
    output: int
    reasoning: int
    user_first: bool
    user_at: float | None
    end_at: float | None
    tool_delay_s: float


@dataclass(slots=True)
class _Session:
    session_id: str
    provider: str | None
    project: str | None
    spill: str
    """Spill file of this session's converted turns (a plain str: no path objects per flush)."""
    models: list[str] = field(default_factory=list)
    next_index: int | None = None
    pending: dict[int, _Round] = field(default_factory=dict)
    prev_input: int | None = None
    prev_end: float | None = None
    buffered: list[bytes] = field(default_factory=list)
    turns: int = 0
    max_context: int = 0
    compactions: int = 0
    gaps: int = 0
    clamped_outputs: int = 0


def _ts(path: Path, lineno: int, fld: str, value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TrajectoryError(path, lineno, fld, f"expected an ISO-8601 timestamp, found {value!r}")
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError as e:
        raise TrajectoryError(path, lineno, fld, f"expected an ISO-8601 timestamp, found {value!r}") from e


def _count(path: Path, lineno: int, row: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = row.get(name)
    if value is None:
        if required:
            raise TrajectoryError(path, lineno, name, "missing: every round needs this token count")
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TrajectoryError(path, lineno, name, f"expected an integer >= 0, found {value!r}")
    return value


def _tool_delay(path: Path, lineno: int, tools: Any) -> tuple[float, float | None]:
    """(delay after the reply, time of the last tool result) from a round's `tools` list."""
    if not tools:
        return 0.0, None
    if not isinstance(tools, list):
        raise TrajectoryError(path, lineno, "tools", "expected a list of tool calls")
    emitted: list[float] = []
    results: list[float] = []
    latencies: list[float] = []
    for k, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise TrajectoryError(path, lineno, f"tools.{k}", "expected an object")
        e = _ts(path, lineno, f"tools.{k}.emitted_at", tool.get("emitted_at"))
        r = _ts(path, lineno, f"tools.{k}.result_at", tool.get("result_at"))
        lat = tool.get("tool_wall_latency_ms")
        if lat is not None and (not isinstance(lat, int | float) or lat < 0):
            raise TrajectoryError(
                path, lineno, f"tools.{k}.tool_wall_latency_ms", f"expected ms >= 0, found {lat!r}"
            )
        if r is None and e is not None and lat is not None:
            r = e + float(lat) / 1000.0
        if e is not None:
            emitted.append(e)
        if r is not None:
            results.append(r)
        if lat is not None:
            latencies.append(float(lat) / 1000.0)
    if emitted and results:
        return max(0.0, max(results) - max(emitted)), max(results)
    if latencies:
        return max(latencies), max(results) if results else None
    return 0.0, max(results) if results else None


def _parse_round(path: Path, lineno: int, row: dict[str, Any]) -> _Round:
    index = row.get("round_index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise TrajectoryError(path, lineno, "round_index", f"expected an integer >= 0, found {index!r}")
    total = _count(path, lineno, row, "input_tokens_total", required=True)
    prefix = _count(path, lineno, row, "prefix_tokens", required=False) or 0
    new = _count(path, lineno, row, "newly_append_tokens", required=False)
    assert total is not None
    if prefix > total:
        raise TrajectoryError(path, lineno, "prefix_tokens", f"{prefix} exceeds input_tokens_total {total}")
    if new is None:
        new = total - prefix
    elif prefix + new != total:
        raise TrajectoryError(
            path, lineno, "newly_append_tokens",
            f"prefix_tokens {prefix} + newly_append_tokens {new} != input_tokens_total {total}",
        )
    output = _count(path, lineno, row, "output_tokens", required=False) or 0
    reasoning = _count(path, lineno, row, "reasoning_output_tokens", required=False) or 0
    events = row.get("timing_events") or []
    if not isinstance(events, list):
        raise TrajectoryError(path, lineno, "timing_events", "expected a list of events")
    user_at: float | None = None
    end_at: float | None = None
    for k, ev in enumerate(events):
        if not isinstance(ev, dict):
            raise TrajectoryError(path, lineno, f"timing_events.{k}", "expected an object")
        t = _ts(path, lineno, f"timing_events.{k}.timestamp", ev.get("timestamp"))
        if t is None:
            continue
        if ev.get("event_type") == "user_message" and user_at is None:
            user_at = t
        end_at = t if end_at is None else max(end_at, t)
    delay, last_result = _tool_delay(path, lineno, row.get("tools"))
    if last_result is not None:
        end_at = last_result if end_at is None else max(end_at, last_result)
    return _Round(
        lineno=lineno,
        index=index,
        input_total=total,
        prefix=prefix,
        new=new,
        output=output,
        reasoning=min(reasoning, max(output, 1)),
        user_first=row.get("first_input_event_type") == "user_message",
        user_at=user_at,
        end_at=end_at,
        tool_delay_s=delay,
    )


class _Converter:
    """Per-session state machine; converted turns spill to disk, never accumulate in memory."""

    def __init__(self, src: Path, spill_dir: Path, *, flush_lines: int, max_pending: int) -> None:
        self.src = src
        self.spill_dir = str(spill_dir)
        self.flush_lines = flush_lines
        self.max_pending = max_pending
        self.sessions: dict[str, _Session] = {}
        self.buffered = 0
        self.pending = 0

    def add(self, lineno: int, row: dict[str, Any]) -> None:
        sid = row.get("session_id")
        if not isinstance(sid, str) or not sid:
            raise TrajectoryError(self.src, lineno, "session_id", "expected a non-empty string")
        rnd = _parse_round(self.src, lineno, row)
        s = self.sessions.get(sid)
        if s is None:
            s = _Session(
                session_id=sid,
                provider=_opt_str(row.get("provider")),
                project=_opt_str(row.get("project")),
                spill=os.path.join(self.spill_dir, f"{len(self.sessions):08d}.part"),
            )
            self.sessions[sid] = s
        model = row.get("model")
        if isinstance(model, str) and model not in s.models and len(s.models) < 8:
            s.models.append(model)
        if s.next_index is None:
            s.next_index = 0
        if rnd.index < s.next_index or rnd.index in s.pending:
            raise TrajectoryError(
                self.src, lineno, "round_index", f"session {sid}: round {rnd.index} appears twice"
            )
        if rnd.index > s.next_index:
            s.pending[rnd.index] = rnd
            self.pending += 1
            if self.pending > self.max_pending:
                raise TrajectoryError(
                    self.src, lineno, "round_index",
                    f"more than {self.max_pending} rounds wait for an earlier round of their session; "
                    "sort the file by session_id, round_index first",
                )
            return
        self._emit(s, rnd)
        while s.next_index in s.pending:
            self._emit(s, s.pending.pop(s.next_index))
            self.pending -= 1

    def _emit(self, s: _Session, rnd: _Round) -> None:
        compacted = s.prev_input is not None and rnd.input_total < (1.0 - COMPACTION_SHRINK) * s.prev_input
        think = 0.0
        if s.turns > 0 and rnd.user_first and rnd.user_at is not None and s.prev_end is not None:
            think = max(0.0, rnd.user_at - s.prev_end)
        output = rnd.output
        if output < 1:
            output = 1
            s.clamped_outputs += 1
        turn = TokenTurn(
            i=s.turns,
            new_input_tokens=rnd.new,
            cached_prefix_tokens=rnd.prefix,
            output_tokens=output,
            reasoning_tokens=min(rnd.reasoning, output),
            tool_delay_s=round(rnd.tool_delay_s, 3),
            think_time_s=round(think, 3),
            compacted=compacted,
        )
        s.buffered.append(orjson.dumps(turn_to_json(turn)) + b"\n")
        self.buffered += 1
        s.turns += 1
        s.compactions += compacted
        s.max_context = max(s.max_context, rnd.input_total + output)
        s.prev_input = rnd.input_total
        if rnd.end_at is not None:
            s.prev_end = rnd.end_at
        s.next_index = rnd.index + 1
        if self.buffered >= self.flush_lines:
            self.flush()

    def flush(self) -> None:
        for s in self.sessions.values():
            if s.buffered:
                with open(s.spill, "ab") as fh:
                    fh.writelines(s.buffered)
                s.buffered.clear()
        self.buffered = 0

    def finish(self) -> None:
        """Rounds still waiting after the end of the file follow a gap: emit them in order."""
        for s in self.sessions.values():
            for index in sorted(s.pending):
                s.gaps += 1
                self._emit(s, s.pending.pop(index))
        self.pending = 0
        self.flush()


def _opt_str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _header(src: Path, s: _Session) -> TrajectoryHeader:
    return TrajectoryHeader(
        format="agentperf-traj/1",
        id=s.session_id,
        kind="tokens",
        source={
            "importer": IMPORTER,
            "file": str(src),
            "session_id": s.session_id,
            "provider": s.provider,
            "project": s.project,
            "models": s.models,
            "attribution": ATTRIBUTION,
            "licence": LICENCE,
            "licence_url": LICENCE_URL,
            "homepage": HOMEPAGE,
            "changes": "converted from TraceLab round rows to agentperf-traj/1 token turns",
        },
        required_context_tokens=s.max_context,
        turns=s.turns,
    )


def import_tracelab(
    src: Path | str,
    out_dir: Path | str,
    *,
    overwrite: bool = False,
    flush_lines: int = 4096,
    max_pending: int = 100_000,
) -> ImportReport:
    """Stream a TraceLab round JSONL into one token trajectory per session.

    Memory holds a few numbers per session, at most `flush_lines` converted turns and at most
    `max_pending` rounds that arrived before an earlier round of their session.
    """
    src_path = Path(src)
    try:
        fh = src_path.open("rb")
    except OSError as e:
        raise TrajectoryError(src_path, None, None, f"cannot open: {e.strerror or e}") from e
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    report = ImportReport(out_dir=out)
    with fh, tempfile.TemporaryDirectory(prefix=".tracelab-import-", dir=out) as spill:
        conv = _Converter(src_path, Path(spill), flush_lines=flush_lines, max_pending=max_pending)
        rows = 0
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                row = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise TrajectoryError(src_path, lineno, None, f"malformed JSON ({e})") from e
            if not isinstance(row, dict):
                raise TrajectoryError(src_path, lineno, None, "each line must be a JSON object")
            conv.add(lineno, row)
            rows += 1
        if rows == 0:
            raise TrajectoryError(src_path, None, None, "no rounds in this file")
        conv.finish()
        used: set[str] = set()
        for s in conv.sessions.values():
            name = safe_filename(s.session_id)
            if name in used:  # two ids that differ only in characters a file name cannot hold
                name = f"{name}-{len(used)}"
            used.add(name)
            path = out / f"{name}.jsonl"
            tmp = path.with_suffix(".jsonl.tmp")
            with tmp.open("wb") as dst:
                dst.write(orjson.dumps(_header(src_path, s).model_dump(exclude_none=True)) + b"\n")
                with open(s.spill, "rb") as src_fh:
                    shutil.copyfileobj(src_fh, dst)
            with contextlib.suppress(OSError):
                os.unlink(s.spill)
            tmp.replace(path)
            report.files.append(path)
            report.turns += s.turns
            if s.gaps:
                report.notes.append(f"{s.session_id}: {s.gaps} round(s) followed missing round indices")
            if s.compactions:
                report.notes.append(f"{s.session_id}: {s.compactions} context compaction(s)")
            if s.clamped_outputs:
                report.notes.append(
                    f"{s.session_id}: {s.clamped_outputs} round(s) with 0 output tokens kept as 1"
                )
    return report
