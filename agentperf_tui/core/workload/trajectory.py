"""The `agentperf-traj/1` trajectory format: pydantic models, a streaming loader and a writer.

A trajectory file is JSONL: one header line, then one line per model turn. A turn stores only
what was appended to the conversation since the previous turn, never the whole history again.
See docs/trajectory-format.md for the full description.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

FORMAT = "agentperf-traj/1"

NonNeg = Annotated[int, Field(ge=0)]
NonNegF = Annotated[float, Field(ge=0.0)]


class TrajectoryError(ValueError):
    """A trajectory file (or set) is unusable. The message names file, line and field."""

    def __init__(self, path: Path | str, line: int | None, field: str | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.reason = message
        where = self.path
        if line is not None:
            where += f":{line}"
        if field:
            where += f" (field '{field}')"
        super().__init__(f"{where}: {message}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrajectoryHeader(_Strict):
    format: Literal["agentperf-traj/1"]
    id: Annotated[str, Field(min_length=1)]
    kind: Literal["text", "tokens"]
    source: dict[str, Any] = Field(default_factory=dict)
    """Where the trajectory came from (importer name, original file, task id, licence)."""
    required_context_tokens: NonNeg | None = None
    tools: list[dict[str, Any]] | None = None
    """Tool definitions sent with every text turn unless a turn overrides them."""
    turns: NonNeg | None = None
    """Number of turns that follow, when known (a loader checks it)."""


class Message(BaseModel):
    """An OpenAI chat message; any extra keys (tool_calls, tool_call_id, name) are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class TextTurn(_Strict):
    """One model call of a text trajectory.

    `append` holds the messages added since the previous turn (for turn 0: the whole prompt;
    later: typically the previous assistant reply as recorded, then the tool results). When
    `compacted` is true the conversation was replaced (context compaction): `append` is the
    whole new context.

    `drop_last` removes that many trailing messages of the previous context before `append`
    is added: harnesses that end every request with a message they replace on the next one
    (a "turn 3 of 100" reminder) are stored this way instead of as a compaction.
    """

    i: NonNeg
    append: list[Message]
    drop_last: NonNeg = 0
    tools: list[dict[str, Any]] | None = None
    """Tool definitions for this turn only, when they differ from the header's (`[]`: none)."""
    output_tokens: Annotated[int, Field(ge=1)]
    """Exact number of tokens this turn must generate."""
    tool_delay_s: NonNegF = 0.0
    """Tool-call delay after this turn's reply, before the next turn is sent."""
    think_time_s: NonNegF = 0.0
    """Human think time before this turn (kept apart from tool time)."""
    compacted: bool = False
    recorded_prompt_tokens: NonNeg | None = None
    recorded_output_tokens: NonNeg | None = None


class TokenTurn(_Strict):
    """One model call of a token-only trajectory (counts, no text).

    The prompt of turn k is `cached_prefix_tokens` of earlier context plus `new_input_tokens`
    appended now. Generated trajectories set `cached_prefix_tokens` to the previous turn's whole
    context (prompt plus output); imported recordings keep the cache-read count the recording
    reports, which may lag the context. A replay sizes the prompt from the sum
    (`prompt_tokens`) and appends to its own context; `compacted` restarts that context.
    `output_tokens` includes `reasoning_tokens`.
    """

    i: NonNeg
    new_input_tokens: NonNeg
    cached_prefix_tokens: NonNeg = 0
    output_tokens: Annotated[int, Field(ge=1)]
    reasoning_tokens: NonNeg = 0
    tool_delay_s: NonNegF = 0.0
    think_time_s: NonNegF = 0.0
    compacted: bool = False

    @property
    def prompt_tokens(self) -> int:
        return self.cached_prefix_tokens + self.new_input_tokens


Turn = TextTurn | TokenTurn


class Trajectory(BaseModel):
    model_config = ConfigDict(frozen=True)
    header: TrajectoryHeader
    turns: tuple[TextTurn, ...] | tuple[TokenTurn, ...]
    path: str | None = None

    @property
    def id(self) -> str:
        return self.header.id

    @property
    def kind(self) -> str:
        return self.header.kind

    @model_validator(mode="after")
    def _check(self) -> Trajectory:
        if not self.turns:
            raise ValueError("a trajectory needs at least one turn")
        return self


def _field_of(err: ValidationError) -> str:
    first = err.errors()[0]
    return ".".join(str(p) for p in first.get("loc", ())) or "?"


def _reason_of(err: ValidationError) -> str:
    first = err.errors()[0]
    return str(first.get("msg", "invalid value"))


def iter_trajectory(path: Path | str) -> tuple[TrajectoryHeader, Iterator[TextTurn | TokenTurn]]:
    """Open a trajectory file; return its header and a lazy iterator over its turns.

    Every problem raises TrajectoryError naming the file, the 1-based line and the field.
    """
    p = Path(path)
    try:
        fh = p.open("rb")
    except OSError as e:
        raise TrajectoryError(p, None, None, f"cannot open: {e.strerror or e}") from e

    def lines() -> Iterator[tuple[int, Any]]:
        with fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise TrajectoryError(
                        p, lineno, None, f"not UTF-8 text (byte {e.start}); re-encode the file as UTF-8"
                    ) from e
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError as e:
                    raise TrajectoryError(
                        p, lineno, None, f"malformed JSON ({e}); each line must hold one complete JSON object"
                    ) from e
                if not isinstance(obj, dict):
                    raise TrajectoryError(
                        p, lineno, None, f"each line must be a JSON object, found {type(obj).__name__}"
                    )
                yield lineno, obj

    it = lines()
    try:
        lineno, obj = next(it)
    except StopIteration:
        raise TrajectoryError(p, None, None, "empty file: expected a header line") from None
    fmt = obj.get("format")
    if fmt != FORMAT:
        raise TrajectoryError(
            p, lineno, "format", f"expected '{FORMAT}', found {fmt!r}; convert the file with "
            "`agentperf-tui trajectories import`"
        )
    try:
        header = TrajectoryHeader.model_validate(obj)
    except ValidationError as e:
        raise TrajectoryError(p, lineno, _field_of(e), _reason_of(e)) from e
    model: type[TextTurn] | type[TokenTurn] = TextTurn if header.kind == "text" else TokenTurn

    def turns() -> Iterator[TextTurn | TokenTurn]:
        expect = 0
        for ln, o in it:
            try:
                turn = model.model_validate(o)
            except ValidationError as e:
                raise TrajectoryError(p, ln, _field_of(e), _reason_of(e)) from e
            if turn.i != expect:
                raise TrajectoryError(p, ln, "i", f"turn index {turn.i} out of order, expected {expect}")
            expect += 1
            yield turn
        if expect == 0:
            raise TrajectoryError(p, None, None, "no turns after the header")
        if header.turns is not None and header.turns != expect:
            raise TrajectoryError(p, None, "turns", f"header says {header.turns} turns, file has {expect}")

    return header, turns()


def load_trajectory(path: Path | str) -> Trajectory:
    header, turns = iter_trajectory(path)
    return Trajectory(header=header, turns=tuple(turns), path=str(path))  # type: ignore[arg-type]


def load_set(path: Path | str) -> list[Trajectory]:
    """Load a trajectory file, or every `*.jsonl` in a directory (sorted by name).

    Trajectory ids must be unique within a set.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.jsonl"))
        if not files:
            raise TrajectoryError(
                p, None, None, "no *.jsonl trajectory files in this directory; create some with "
                "`agentperf-tui trajectories synth` or `agentperf-tui trajectories import`"
            )
        out = [load_trajectory(f) for f in files]
        seen: dict[str, str] = {}
        for t in out:
            if t.id in seen:
                raise TrajectoryError(
                    t.path or p, 1, "id",
                    f"id {t.id!r} is also used by {seen[t.id]}; ids must be unique in a set",
                )
            seen[t.id] = t.path or ""
        return out
    if not p.exists():
        raise TrajectoryError(p, None, None, "no such file or directory")
    return [load_trajectory(p)]


def turn_to_json(turn: TextTurn | TokenTurn) -> dict[str, Any]:
    """The JSON object stored for one turn (defaults left out, messages exactly as given)."""
    d = turn.model_dump(exclude_defaults=True)
    d["i"] = turn.i
    if isinstance(turn, TextTurn):
        d["append"] = [m.model_dump(exclude_unset=True) for m in turn.append]
    return d


def write_trajectory(
    path: Path | str, header: TrajectoryHeader, turns: Sequence[TextTurn] | Sequence[TokenTurn]
) -> None:
    """Write a trajectory file atomically (temp file then rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    hdr = header.model_copy(update={"turns": len(turns)})
    with tmp.open("wb") as fh:
        fh.write(orjson.dumps(hdr.model_dump(exclude_none=True)) + b"\n")
        for t in turns:
            fh.write(orjson.dumps(turn_to_json(t)) + b"\n")
    tmp.replace(p)
