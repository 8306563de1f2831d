"""The agentperf-traj/1 loader: good files load, bad ones fail naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from agentperf_tui.core.workload.trajectory import (
    Message,
    TextTurn,
    TokenTurn,
    TrajectoryError,
    TrajectoryHeader,
    iter_trajectory,
    load_set,
    load_trajectory,
    write_trajectory,
)

from .traj_files import load_error, turn, write_lines

HEADER = {"format": "agentperf-traj/1", "id": "t1", "kind": "tokens"}


def test_token_file_round_trip(tmp_path: Path) -> None:
    header = TrajectoryHeader(format="agentperf-traj/1", id="rt", kind="tokens", source={"x": 1})
    turns = [
        TokenTurn(i=0, new_input_tokens=500, output_tokens=20, tool_delay_s=1.5),
        TokenTurn(i=1, new_input_tokens=80, cached_prefix_tokens=520, output_tokens=7, think_time_s=3.0),
    ]
    path = tmp_path / "rt.jsonl"
    write_trajectory(path, header, turns)
    traj = load_trajectory(path)
    assert traj.header.turns == 2
    assert list(traj.turns) == turns
    second = traj.turns[1]
    assert isinstance(second, TokenTurn) and second.prompt_tokens == 600


def test_text_messages_keep_exact_keys(tmp_path: Path) -> None:
    """A message written and read back has exactly its original keys (null content stays null)."""
    raw = [
        {"role": "system", "content": "s"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "assistant", "tool_calls": [{"id": "c2", "type": "function"}]},
        {"role": "tool", "content": "ok", "tool_call_id": "c1"},
    ]
    header = TrajectoryHeader(format="agentperf-traj/1", id="tx", kind="text")
    turns = [TextTurn(i=0, append=[Message.model_validate(m) for m in raw], output_tokens=5, drop_last=0)]
    path = tmp_path / "tx.jsonl"
    write_trajectory(path, header, turns)
    back = load_trajectory(path).turns[0]
    assert isinstance(back, TextTurn)
    assert [m.model_dump(exclude_unset=True) for m in back.append] == raw


def test_malformed_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(orjson.dumps(HEADER) + b"\n" + orjson.dumps(turn(0)) + b"\n{\"i\": 1, \"new_in\n")
    err = load_error(path)
    assert err.path == str(path) and err.line == 3 and err.field is None
    assert "malformed JSON" in str(err) and f"{path}:3" in str(err)


def test_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_bytes(orjson.dumps(HEADER) + b"\n[1, 2]\n")
    err = load_error(path)
    assert (err.line, err.field) == (2, None)
    assert "JSON object" in err.reason


@pytest.mark.parametrize("fmt", ["agentperf-traj/3", "something-else", None])
def test_wrong_format_or_version(tmp_path: Path, fmt: str | None) -> None:
    header = dict(HEADER)
    if fmt is None:
        del header["format"]
    else:
        header["format"] = fmt
    err = load_error(write_lines(tmp_path / "fmt.jsonl", header, turn(0)))
    assert (err.line, err.field) == (1, "format")
    assert "agentperf-traj/1" in err.reason and "trajectories import" in err.reason


@pytest.mark.parametrize(
    ("field", "value"),
    [("new_input_tokens", -1), ("cached_prefix_tokens", -5), ("output_tokens", 0), ("tool_delay_s", -0.5)],
)
def test_negative_counts(tmp_path: Path, field: str, value: float) -> None:
    path = write_lines(tmp_path / "neg.jsonl", HEADER, turn(0), turn(1, **{field: value}))
    err = load_error(path)
    assert (err.path, err.line, err.field) == (str(path), 3, field)
    assert "greater than or equal" in err.reason
    assert f"{path}:3 (field '{field}')" in str(err)


def test_negative_count_in_header(tmp_path: Path) -> None:
    err = load_error(write_lines(tmp_path / "h.jsonl", HEADER | {"required_context_tokens": -3}, turn(0)))
    assert (err.line, err.field) == (1, "required_context_tokens")


def test_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(orjson.dumps(HEADER) + b"\n" + b'{"i": 0, "note": "caf\xe9"}\n')
    err = load_error(path)
    assert (err.line, err.field) == (2, None)
    assert "UTF-8" in err.reason and "re-encode" in err.reason


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n\n")
    err = load_error(path)
    assert (err.path, err.line, err.field) == (str(path), None, None)
    assert "empty file" in err.reason


def test_header_without_turns(tmp_path: Path) -> None:
    err = load_error(write_lines(tmp_path / "h.jsonl", HEADER))
    assert "no turns" in err.reason


def test_turn_count_mismatch(tmp_path: Path) -> None:
    err = load_error(write_lines(tmp_path / "n.jsonl", HEADER | {"turns": 3}, turn(0), turn(1)))
    assert err.field == "turns" and "3" in err.reason


def test_turn_index_out_of_order(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "order.jsonl", HEADER, turn(0), turn(2), turn(1))
    err = load_error(path)
    assert (err.path, err.line, err.field) == (str(path), 3, "i")
    assert "expected 1" in err.reason


def test_unknown_field_is_named(tmp_path: Path) -> None:
    err = load_error(write_lines(tmp_path / "x.jsonl", HEADER, turn(0, new_input=3)))
    assert (err.line, err.field) == (2, "new_input")


def test_text_turn_in_token_file_is_named(tmp_path: Path) -> None:
    err = load_error(write_lines(tmp_path / "k.jsonl", HEADER, {"i": 0, "append": [], "output_tokens": 3}))
    assert err.line == 2 and err.field in {"append", "new_input_tokens"}


def test_bad_message_role(tmp_path: Path) -> None:
    header = HEADER | {"kind": "text"}
    bad = {"i": 0, "append": [{"role": "robot", "content": "x"}], "output_tokens": 3}
    err = load_error(write_lines(tmp_path / "r.jsonl", header, bad))
    assert err.line == 2 and err.field == "append.0.role"


def test_iter_is_lazy_but_checks_header_first(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "lazy.jsonl", HEADER, turn(0), turn(5))
    header, turns = iter_trajectory(path)
    assert header.id == "t1"
    assert next(turns).i == 0
    with pytest.raises(TrajectoryError) as info:
        next(turns)
    assert info.value.line == 3


def test_empty_set_dir(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a trajectory")
    with pytest.raises(TrajectoryError) as info:
        load_set(tmp_path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(tmp_path), None, None)
    assert "no *.jsonl" in err.reason and "trajectories synth" in err.reason


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryError) as info:
        load_set(tmp_path / "nope")
    assert "no such file" in info.value.reason


def test_set_loads_sorted_and_rejects_duplicate_ids(tmp_path: Path) -> None:
    write_lines(tmp_path / "b.jsonl", HEADER | {"id": "b"}, turn(0))
    write_lines(tmp_path / "a.jsonl", HEADER | {"id": "a"}, turn(0))
    assert [t.id for t in load_set(tmp_path)] == ["a", "b"]
    write_lines(tmp_path / "c.jsonl", HEADER | {"id": "a"}, turn(0))
    with pytest.raises(TrajectoryError) as info:
        load_set(tmp_path)
    assert info.value.field == "id" and info.value.path.endswith("c.jsonl") and "a.jsonl" in info.value.reason


def test_bad_file_inside_set_names_that_file(tmp_path: Path) -> None:
    write_lines(tmp_path / "a.jsonl", HEADER | {"id": "a"}, turn(0))
    write_lines(tmp_path / "b.jsonl", HEADER | {"id": "b"}, turn(0, output_tokens=-2))
    with pytest.raises(TrajectoryError) as info:
        load_set(tmp_path)
    assert info.value.path == str(tmp_path / "b.jsonl") and info.value.line == 2


def test_giant_line_is_refused_with_its_line_number(tmp_path: Path) -> None:
    from agentperf_tui.core.workload.lines import MAX_LINE_BYTES

    path = tmp_path / "giant.jsonl"
    with path.open("wb") as fh:
        fh.write(orjson.dumps(HEADER | {"turns": 1}) + b"\n")
        fh.write(b'{"i": 0, "pad": "' + b"x" * (MAX_LINE_BYTES + 1024) + b'"}\n')
    err = load_error(path)
    assert err.line == 2 and err.path == str(path)
    assert "longer than 32 MiB" in err.reason and "one line per turn" in err.reason


def test_giant_line_is_not_read_whole(tmp_path: Path) -> None:
    import tracemalloc

    from agentperf_tui.core.workload.lines import bounded_lines

    limit = 1024 * 1024
    path = tmp_path / "giant.jsonl"
    path.write_bytes(b"{}\n" + b"x" * (24 * limit) + b"\n")
    tracemalloc.start()
    try:
        with path.open("rb") as fh, pytest.raises(TrajectoryError) as info:
            list(bounded_lines(fh, path, limit=limit))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.line == 2
    assert peak < 4 * limit, f"peak {peak} bytes while refusing a {24 * limit}-byte line"


def test_line_exactly_at_the_limit_is_read(tmp_path: Path) -> None:
    import io

    from agentperf_tui.core.workload.lines import bounded_lines

    data = b"a" * 10 + b"\n" + b"b" * 10 + b"\n" + b"c" * 10
    assert [n for n, _ in bounded_lines(io.BytesIO(data), "x", limit=10)] == [1, 2, 3]
    with pytest.raises(TrajectoryError) as info:
        list(bounded_lines(io.BytesIO(data + b"c"), "x", limit=10))
    assert info.value.line == 3
