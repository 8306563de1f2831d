"""The `agentperf-traj/1` and `/2` trajectory formats: pydantic models, a loader and a writer.

A trajectory file is JSONL: one header line, then one line per model turn. A turn stores only
what was appended to the conversation since the previous turn, never the whole history again.
Version 2 adds sub-agents (a node line opens a sub-agent whose turn lines follow it), per-turn
block hashes for token-only trajectories and recorded request durations; a file without them is
written as version 1. See docs/trajectory-format.md for the full description, and tree.py for
the tree view a replayer walks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agentperf_tui.core.workload.errors import TrajectoryError
from agentperf_tui.core.workload.lines import bounded_lines

FORMAT = "agentperf-traj/1"
FORMAT_V2 = "agentperf-traj/2"
FORMATS = (FORMAT, FORMAT_V2)
ROOT = "root"
"""Node id of a trajectory's main agent; sub-agent lines name it as their parent by default."""

NonNeg = Annotated[int, Field(ge=0)]
NonNegF = Annotated[float, Field(ge=0.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrajectoryHeader(_Strict):
    format: Literal["agentperf-traj/1", "agentperf-traj/2"]
    id: Annotated[str, Field(min_length=1)]
    kind: Literal["text", "tokens"]
    source: dict[str, Any] = Field(default_factory=dict)
    """Where the trajectory came from (importer name, original file, task id, licence)."""
    required_context_tokens: NonNeg | None = None
    tools: list[dict[str, Any]] | None = None
    """Tool definitions sent with every text turn unless a turn overrides them."""
    turns: NonNeg | None = None
    """Number of turns of the main agent, when known (a loader checks it)."""
    subagents: NonNeg | None = None
    """Number of sub-agent node lines, when known (version 2; a loader checks it)."""
    block_size: Annotated[int, Field(ge=1)] | None = None
    """Tokens per block of the turns' `block_hashes` (version 2, token-only trajectories)."""
    hash_scope: Literal["trajectory", "set"] = "trajectory"
    """Where equal block hashes mean equal content: within this trajectory, or across its set."""
    system_prompt_tokens: NonNeg | None = None
    """Leading tokens of the main agent's context that sub-agents with context "system" share."""

    @property
    def v2_fields(self) -> list[str]:
        """Version-2 fields this header sets."""
        out = [f for f in ("subagents", "block_size", "system_prompt_tokens") if getattr(self, f) is not None]
        return out + (["hash_scope"] if self.hash_scope != "trajectory" else [])


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
    recorded_duration_s: NonNegF | None = None
    """How long the recorded request took on the recording's server (version 2)."""


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
    block_hashes: tuple[NonNeg, ...] | None = None
    """The prompt as a list of block hashes, `block_size` tokens each (the last may be partial;
    version 2). Equal hashes stand for equal content: a replay sends equal text for them."""
    recorded_duration_s: NonNegF | None = None
    """How long the recorded request took on the recording's server (version 2)."""

    @property
    def prompt_tokens(self) -> int:
        return self.cached_prefix_tokens + self.new_input_tokens


Turn = TextTurn | TokenTurn
V2_TURN_FIELDS = ("block_hashes", "recorded_duration_s")


def _v2_turn_fields(turn: TextTurn | TokenTurn) -> list[str]:
    return [f for f in V2_TURN_FIELDS if getattr(turn, f, None) is not None]


class SubagentSpec(_Strict):
    """A node line: a sub-agent forked by its parent (version 2). Its turn lines follow it.

    The parent's reply to turn `at_turn` spawns it; it starts `start_offset_s` after that reply
    ended. With `join: "wait"` the parent does not send turn `join_turn` (default: the next one)
    before this sub-agent has finished (`join_turn` equal to the parent's turn count: the parent
    waits before it finishes); with `join: "detach"` the parent goes on (fire and forget).
    Sub-agents spawned by the same turn with the same join form one fork.
    """

    node: Annotated[str, Field(min_length=1)]
    parent: Annotated[str, Field(min_length=1)] = ROOT
    at_turn: NonNeg
    join: Literal["wait", "detach"] = "wait"
    join_turn: NonNeg | None = None
    context: Literal["parent", "system", "none"] = "none"
    """The shared prefix its context starts from: the parent's context as sent at `at_turn`, the
    main agent's system prompt, or nothing (the replay's dynamic prefix still goes first)."""
    start_offset_s: NonNegF = 0.0
    result_tokens: NonNeg | None = None
    """Size of what it returned to the parent (part of the join turn's new input), when known."""
    label: str | None = None
    """What the source called it (a sub-agent type such as "Explore")."""
    source: dict[str, Any] = Field(default_factory=dict)
    turns: NonNeg | None = None
    """Number of its turn lines, when known (a loader checks it; the writer fills it in)."""

    @field_validator("node")
    @classmethod
    def _not_root(cls, v: str) -> str:
        if v == ROOT:
            raise ValueError(f"'{ROOT}' names the main agent; choose another node id")
        return v

    @field_validator("join_turn")
    @classmethod
    def _join_after_fork(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is None:
            return v
        if info.data.get("join") == "detach":
            raise ValueError("a detached sub-agent has no join_turn")
        at = info.data.get("at_turn")
        if at is not None and v <= at:
            raise ValueError(f"join_turn {v} must come after at_turn {at}")
        return v

    @property
    def joins_before(self) -> int | None:
        """The parent turn that waits for it (the parent's turn count: its end); None if detached."""
        if self.join == "detach":
            return None
        return self.at_turn + 1 if self.join_turn is None else self.join_turn


class Subagent(BaseModel):
    """One sub-agent of a trajectory: its node line and its turns."""

    model_config = ConfigDict(frozen=True)
    spec: SubagentSpec
    turns: tuple[TextTurn, ...] | tuple[TokenTurn, ...]

    @property
    def id(self) -> str:
        return self.spec.node


class Trajectory(BaseModel):
    """A loaded trajectory: `turns` are the main agent's; `subagents` (version 2) the rest of the
    tree, parents before children. `tree.tree_of(traj)` gives the tree view."""

    model_config = ConfigDict(frozen=True)
    header: TrajectoryHeader
    turns: tuple[TextTurn, ...] | tuple[TokenTurn, ...]
    subagents: tuple[Subagent, ...] = ()
    path: str | None = None

    @property
    def is_tree(self) -> bool:
        return bool(self.subagents)

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


def _reason_of(err: ValidationError, model: type[BaseModel]) -> str:
    """What is wrong with the first bad field, and for an unknown one, the fields there are."""
    first = err.errors()[0]
    msg = str(first.get("msg", "invalid value"))
    if first.get("type") == "extra_forbidden":
        known = ", ".join(model.model_fields)
        return f"{msg}: an unknown field; remove it or correct its name (fields here: {known})"
    return f"{msg} (docs/trajectory-format.md)"


def block_hash_range(prompt_tokens: int, block_size: int) -> tuple[int, int]:
    """How many block hashes a prompt may carry: its full blocks, plus one for a partial last block."""
    return prompt_tokens // block_size, -(-prompt_tokens // block_size)


def _lines(p: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = p.open("rb")
    except OSError as e:
        raise TrajectoryError(p, None, None, f"cannot open: {e.strerror or e}") from e

    def gen() -> Iterator[tuple[int, dict[str, Any]]]:
        with fh:
            for lineno, raw in bounded_lines(fh, p):
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

    return gen()


def _read_header(p: Path, it: Iterator[tuple[int, dict[str, Any]]]) -> TrajectoryHeader:
    try:
        lineno, obj = next(it)
    except StopIteration:
        raise TrajectoryError(p, None, None, "empty file: expected a header line") from None
    fmt = obj.get("format")
    if fmt is None:
        raise TrajectoryError(
            p, lineno, "format", f"the first line must be the trajectory's header, with \"format\": "
            f"\"{FORMAT}\" (docs/trajectory-format.md); convert other files with "
            "`agentperf-tui trajectories import`"
        )
    if fmt not in FORMATS:
        raise TrajectoryError(
            p, lineno, "format", f"expected '{FORMAT}' or '{FORMAT_V2}', found {fmt!r}; convert the file "
            "with `agentperf-tui trajectories import`"
        )
    try:
        header = TrajectoryHeader.model_validate(obj)
    except ValidationError as e:
        raise TrajectoryError(p, lineno, _field_of(e), _reason_of(e, TrajectoryHeader)) from e
    if header.format == FORMAT and header.v2_fields:
        raise TrajectoryError(p, lineno, header.v2_fields[0], f"this field needs format '{FORMAT_V2}'")
    if header.block_size is not None and header.kind != "tokens":
        raise TrajectoryError(p, lineno, "block_size", "only token-only trajectories carry block hashes")
    return header


class _Section:
    """The turns of one node (the main agent or a sub-agent) as they are read."""

    __slots__ = ("lineno", "spec", "turns", "waiting_results")

    def __init__(self, lineno: int, spec: SubagentSpec | None) -> None:
        self.lineno = lineno
        self.spec = spec
        self.turns: list[TextTurn | TokenTurn] = []
        self.waiting_results: dict[int, int] = {}
        """Sum of the `result_tokens` of the sub-agents each of its turns waits for."""


class _Body:
    """Reads the lines after the header: turn lines, and (version 2) node lines opening sub-agents."""

    def __init__(self, p: Path, header: TrajectoryHeader) -> None:
        self.p = p
        self.header = header
        self.model: type[TextTurn] | type[TokenTurn] = TextTurn if header.kind == "text" else TokenTurn
        self.root = _Section(1, None)
        self.current = self.root
        self.sections: dict[str, _Section] = {ROOT: self.root}

    def _error(self, line: int | None, field: str | None, message: str) -> TrajectoryError:
        return TrajectoryError(self.p, line, field, message)

    def turn(self, ln: int, obj: dict[str, Any]) -> TextTurn | TokenTurn:
        try:
            turn = self.model.model_validate(obj)
        except ValidationError as e:
            raise self._error(ln, _field_of(e), _reason_of(e, self.model)) from e
        sec = self.current
        if turn.i != len(sec.turns):
            raise self._error(ln, "i", f"turn index {turn.i} out of order, expected {len(sec.turns)}")
        extra = _v2_turn_fields(turn)
        if extra and self.header.format == FORMAT:
            raise self._error(ln, extra[0], f"this field needs format '{FORMAT_V2}'")
        if isinstance(turn, TokenTurn):
            self._check_hashes(ln, turn)
        sec.turns.append(turn)
        return turn

    def _check_hashes(self, ln: int, turn: TokenTurn) -> None:
        size = self.header.block_size
        if turn.block_hashes is None:
            if size is not None:
                raise self._error(ln, "block_hashes", "the header declares block_size, so every turn needs "
                                  "block_hashes")
            return
        if size is None:
            raise self._error(ln, "block_hashes", "block hashes need block_size in the header")
        lo, hi = block_hash_range(turn.prompt_tokens, size)
        n = len(turn.block_hashes)
        if not lo <= n <= hi:
            want = str(lo) if lo == hi else f"{lo} or {hi}"
            raise self._error(ln, "block_hashes", f"{n} hashes for a {turn.prompt_tokens}-token prompt in "
                              f"{size}-token blocks; expected {want}")

    def node(self, ln: int, obj: dict[str, Any]) -> None:
        if self.header.format == FORMAT:
            raise self._error(ln, "node", f"sub-agent lines need format '{FORMAT_V2}'")
        if not self.root.turns:
            raise self._error(ln, "node", "the main agent's turns come first, before any sub-agent line")
        self._close(self.current)
        try:
            spec = SubagentSpec.model_validate(obj)
        except ValidationError as e:
            raise self._error(ln, _field_of(e), _reason_of(e, SubagentSpec)) from e
        if spec.node in self.sections:
            raise self._error(ln, "node", f"node id {spec.node!r} is used twice")
        parent = self.sections.get(spec.parent)
        if parent is None:
            raise self._error(ln, "parent", f"no node {spec.parent!r} before this line; a parent's line (and "
                              "turns) must come before its sub-agents")
        n = len(parent.turns)
        if spec.at_turn >= n:
            raise self._error(ln, "at_turn", f"node {spec.parent!r} has {n} turns, no turn {spec.at_turn}")
        join = spec.joins_before
        if join is not None and join > n:
            raise self._error(ln, "join_turn", f"node {spec.parent!r} has {n} turns; join_turn can be at "
                              f"most {n}")
        tokens = self.header.kind == "tokens"
        if spec.context == "system" and tokens and self.header.system_prompt_tokens is None:
            raise self._error(ln, "context", "context 'system' needs system_prompt_tokens in the header")
        if join is not None and spec.result_tokens is not None and join < n:
            joined = parent.turns[join]
            if isinstance(joined, TokenTurn):
                total = parent.waiting_results.get(join, 0) + spec.result_tokens
                if total > joined.new_input_tokens:
                    raise self._error(ln, "result_tokens", f"the sub-agents joined at turn {join} of "
                                      f"{spec.parent!r} return {total} tokens, more than that turn's "
                                      f"{joined.new_input_tokens} new input tokens")
                parent.waiting_results[join] = total
        self.current = self.sections[spec.node] = _Section(ln, spec)

    def _close(self, sec: _Section) -> None:
        if sec.spec is None:
            if not sec.turns:
                raise self._error(None, None, "no turns after the header")
            if self.header.turns is not None and self.header.turns != len(sec.turns):
                raise self._error(None, "turns", f"header says {self.header.turns} turns, file has "
                                  f"{len(sec.turns)}")
            return
        if not sec.turns:
            raise self._error(sec.lineno, "node", f"sub-agent {sec.spec.node!r} has no turns")
        if sec.spec.turns is not None and sec.spec.turns != len(sec.turns):
            raise self._error(sec.lineno, "turns", f"node line says {sec.spec.turns} turns, "
                              f"sub-agent {sec.spec.node!r} has {len(sec.turns)}")

    def finish(self) -> tuple[tuple[TextTurn | TokenTurn, ...], tuple[Subagent, ...]]:
        self._close(self.current)
        subs = [s for s in self.sections.values() if s.spec is not None]
        if self.header.subagents is not None and self.header.subagents != len(subs):
            raise self._error(None, "subagents", f"header says {self.header.subagents} sub-agents, file has "
                              f"{len(subs)}")
        out = tuple(Subagent(spec=s.spec, turns=tuple(s.turns)) for s in subs  # type: ignore[arg-type]
                    if s.spec is not None)
        return tuple(self.root.turns), out


def iter_trajectory(path: Path | str) -> tuple[TrajectoryHeader, Iterator[TextTurn | TokenTurn]]:
    """Open a trajectory file; return its header and a lazy iterator over its main agent's turns.

    For linear trajectories (streaming); a file with sub-agents is read with `load_trajectory`.
    Every problem raises TrajectoryError naming the file, the 1-based line and the field.
    """
    p = Path(path)
    it = _lines(p)
    header = _read_header(p, it)
    body = _Body(p, header)

    def turns() -> Iterator[TextTurn | TokenTurn]:
        for ln, o in it:
            if "node" in o:
                raise TrajectoryError(p, ln, "node", "this trajectory has sub-agents; load it whole with "
                                      "load_trajectory")
            yield body.turn(ln, o)
        body.finish()

    return header, turns()


def load_trajectory(path: Path | str) -> Trajectory:
    """Load a whole trajectory file, sub-agents included."""
    p = Path(path)
    it = _lines(p)
    header = _read_header(p, it)
    body = _Body(p, header)
    for ln, o in it:
        if "node" in o:
            body.node(ln, o)
        else:
            body.turn(ln, o)
    turns, subagents = body.finish()
    return Trajectory(header=header, turns=turns, subagents=subagents, path=str(path))  # type: ignore[arg-type]


def load_set(path: Path | str, *, trees: bool = False) -> list[Trajectory]:
    """Load a trajectory file, or every `*.jsonl` in a directory (sorted by name).

    Trajectory ids must be unique within a set. Trajectories with sub-agents are refused unless
    `trees` is true: a caller that replays only linear trajectories must not silently replay the
    main agent of a tree alone.
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
    elif not p.exists():
        raise TrajectoryError(p, None, None, "no such file or directory")
    else:
        out = [load_trajectory(p)]
    if not trees:
        for t in out:
            if t.is_tree:
                raise TrajectoryError(
                    t.path or p, None, "subagents", f"trajectory {t.id!r} has {len(t.subagents)} "
                    "sub-agents; this command replays linear trajectories only (see `agentperf-tui "
                    "trajectories show` for the tree)"
                )
    return out


def turn_to_json(turn: TextTurn | TokenTurn) -> dict[str, Any]:
    """The JSON object stored for one turn (defaults left out, messages exactly as given)."""
    d = turn.model_dump(exclude_defaults=True)
    d["i"] = turn.i
    if isinstance(turn, TextTurn):
        d["append"] = [m.model_dump(exclude_unset=True) for m in turn.append]
    return d


def spec_to_json(spec: SubagentSpec, turns: int) -> dict[str, Any]:
    """The JSON object of a node line (node id first, defaults left out, the turn count filled in)."""
    d = spec.model_copy(update={"turns": turns}).model_dump(exclude_defaults=True)
    return {"node": spec.node, "at_turn": spec.at_turn} | d


def needs_v2(header: TrajectoryHeader, turns: Sequence[TextTurn | TokenTurn],
             subagents: Sequence[Subagent] = ()) -> bool:
    """Whether a trajectory uses anything only version 2 can hold."""
    if subagents or header.v2_fields:
        return True
    return any(_v2_turn_fields(t) for t in turns)


def write_trajectory(
    path: Path | str, header: TrajectoryHeader, turns: Sequence[TextTurn] | Sequence[TokenTurn],
    subagents: Sequence[Subagent] = (),
) -> None:
    """Write a trajectory file atomically (temp file then rename).

    Counts are filled in; a trajectory that needs version 2 (sub-agents, block hashes, recorded
    durations) is written as version 2, any other keeps the header's version. Sub-agents are
    written in the order given, which must put every parent before its sub-agents.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    update: dict[str, Any] = {"turns": len(turns)}
    if needs_v2(header, turns, subagents):
        update["format"] = FORMAT_V2
        update["subagents"] = len(subagents) or None
    hdr = header.model_copy(update=update)
    head = hdr.model_dump(exclude_none=True)
    if hdr.hash_scope == "trajectory":
        del head["hash_scope"]
    with tmp.open("wb") as fh:
        fh.write(orjson.dumps(head) + b"\n")
        for t in turns:
            fh.write(orjson.dumps(turn_to_json(t)) + b"\n")
        for sub in subagents:
            fh.write(orjson.dumps(spec_to_json(sub.spec, len(sub.turns))) + b"\n")
            for t in sub.turns:
                fh.write(orjson.dumps(turn_to_json(t)) + b"\n")
    tmp.replace(p)
