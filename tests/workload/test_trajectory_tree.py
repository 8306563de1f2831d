"""agentperf-traj/2: sub-agent trees, block hashes and recorded durations; the tree view and its timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from agentperf_tui.core.workload.text_replay import tree_text_messages
from agentperf_tui.core.workload.trajectory import (
    Subagent,
    SubagentSpec,
    TokenTurn,
    TrajectoryError,
    TrajectoryHeader,
    iter_trajectory,
    load_set,
    load_trajectory,
    write_trajectory,
)
from agentperf_tui.core.workload.tree import tree_of
from agentperf_tui.core.workload.tree_replay import timeline

from .traj_files import load_error, turn, write_lines

V2 = {"format": "agentperf-traj/2", "id": "tree", "kind": "tokens"}


def _tree(tmp_path: Path, *lines: dict[str, Any], header: dict[str, Any] | None = None) -> Path:
    return write_lines(tmp_path / "tree.jsonl", header or V2, *lines)


def test_a_tree_loads_with_forks_and_joins(tmp_path: Path) -> None:
    path = _tree(
        tmp_path,
        turn(0, tool_delay_s=1.0), turn(1), turn(2),
        {"node": "a", "at_turn": 0, "start_offset_s": 0.25, "label": "Explore"}, turn(0), turn(1),
        {"node": "b", "at_turn": 0}, turn(0),
        {"node": "bg", "at_turn": 1, "join": "detach"}, turn(0),
        {"node": "late", "at_turn": 0, "join_turn": 2}, turn(0),
        {"node": "a1", "parent": "a", "at_turn": 1, "join_turn": 2, "context": "parent"}, turn(0),
    )
    traj = load_trajectory(path)
    assert traj.is_tree and len(traj.turns) == 3
    assert [s.id for s in traj.subagents] == ["a", "b", "bg", "late", "a1"]
    root = tree_of(traj)
    assert [n.id for n in root.walk()] == ["root", "a", "a1", "b", "late", "bg"]
    (fork0, late), (fork1,) = root.forks_after(0), root.forks_after(1)
    assert [c.id for c in fork0.children] == ["a", "b"] and fork0.joins_before == 1 and not fork0.detached
    assert [c.id for c in late.children] == ["late"] and late.joins_before == 2
    assert fork1.detached and fork1.children[0].id == "bg"
    assert root.joins_before(1) == (fork0,) and root.joins_before(2) == (late,)
    a = fork0.children[0]
    assert a.depth == 1 and a.start_offset_s == 0.25 and a.spec is not None and a.spec.label == "Explore"
    # a1 joins at a's end (join_turn = a's turn count): a is finished only after a1
    assert a.joins_before(2)[0].children[0].id == "a1"


def test_timeline_follows_the_replay_rules(tmp_path: Path) -> None:
    d = {"recorded_duration_s": 1.0}
    path = _tree(
        tmp_path,
        turn(0, tool_delay_s=0.5, **d), turn(1, tool_delay_s=0.5, think_time_s=2.0, **d), turn(2, **d),
        {"node": "slow", "at_turn": 0, "start_offset_s": 0.1}, turn(0, tool_delay_s=0.2, **d), turn(1, **d),
        {"node": "bg", "at_turn": 0, "join": "detach"}, turn(0, recorded_duration_s=9.0),
    )
    root = tree_of(load_trajectory(path))
    got = {(r.node, r.turn): (round(r.start, 6), round(r.end, 6)) for r in timeline(root)}
    # slow: 1.1-2.1, then 2.3-3.3; root turn 1 waits for it: 3.3 + 0.5 tool + 2.0 think
    assert got[("slow", 0)] == (1.1, 2.1) and got[("slow", 1)] == (2.3, 3.3)
    assert got[("root", 1)] == (5.8, 6.8) and got[("root", 2)] == (7.3, 8.3)
    # the detached one runs past the parent's end; nothing waits for it
    assert got[("bg", 0)] == (1.0, 10.0)
    no_think = {(r.node, r.turn): r.start for r in timeline(root, think_time=False)}
    assert no_think[("root", 1)] == pytest.approx(3.8)


def test_block_hashes_and_durations_round_trip(tmp_path: Path) -> None:
    header = TrajectoryHeader(format="agentperf-traj/1", id="h", kind="tokens", block_size=64,
                              hash_scope="set", system_prompt_tokens=128)
    turns = [TokenTurn(i=0, new_input_tokens=130, output_tokens=5, block_hashes=(1, 2, 3),
                       recorded_duration_s=0.5),
             TokenTurn(i=1, new_input_tokens=62, cached_prefix_tokens=130, output_tokens=7,
                       block_hashes=(1, 2, 3))]
    sub = Subagent(spec=SubagentSpec(node="s", at_turn=0, context="system", result_tokens=40),
                   turns=(TokenTurn(i=0, new_input_tokens=64, output_tokens=3, block_hashes=(1,)),))
    path = tmp_path / "h.jsonl"
    write_trajectory(path, header, turns, [sub])
    first = orjson.loads(path.read_bytes().splitlines()[0])
    assert first["format"] == "agentperf-traj/2" and first["subagents"] == 1 and first["hash_scope"] == "set"
    traj = load_trajectory(path)
    assert list(traj.turns) == turns and traj.subagents[0].turns == sub.turns
    assert traj.subagents[0].spec == sub.spec.model_copy(update={"turns": 1})


def test_linear_files_stay_version_1(tmp_path: Path) -> None:
    header = TrajectoryHeader(format="agentperf-traj/1", id="l", kind="tokens")
    path = tmp_path / "l.jsonl"
    write_trajectory(path, header, [TokenTurn(i=0, new_input_tokens=5, output_tokens=1)])
    assert path.read_bytes() == (
        b'{"format":"agentperf-traj/1","id":"l","kind":"tokens","source":{},"turns":1}\n'
        b'{"i":0,"new_input_tokens":5,"output_tokens":1}\n'
    )
    # a version-2 file without sub-agents is a valid linear trajectory
    v2 = _tree(tmp_path, turn(0))
    assert not load_trajectory(v2).is_tree and load_set(v2)[0].id == "tree"


@pytest.mark.parametrize(
    ("lines", "line", "field", "words"),
    [
        ([turn(0), {"node": "a", "at_turn": 0}, turn(0)], 3, "node", "agentperf-traj/2"),
        ([turn(0, block_hashes=[1, 2])], 2, "block_hashes", "agentperf-traj/2"),
        ([turn(0, recorded_duration_s=1.0)], 2, "recorded_duration_s", "agentperf-traj/2"),
    ],
)
def test_version_2_content_in_a_version_1_file(
    tmp_path: Path, lines: list[dict[str, Any]], line: int, field: str, words: str
) -> None:
    err = load_error(_tree(tmp_path, *lines, header=V2 | {"format": "agentperf-traj/1"}))
    assert (err.line, err.field) == (line, field) and words in err.reason


def test_version_2_header_field_in_a_version_1_file(tmp_path: Path) -> None:
    err = load_error(_tree(tmp_path, turn(0), header=V2 | {"format": "agentperf-traj/1", "block_size": 64}))
    assert (err.line, err.field) == (1, "block_size") and "agentperf-traj/2" in err.reason


@pytest.mark.parametrize(
    ("node", "field", "words"),
    [
        ({"node": "a", "parent": "ghost", "at_turn": 0}, "parent", "no node 'ghost'"),
        ({"node": "a", "at_turn": 2}, "at_turn", "has 2 turns"),
        ({"node": "a", "at_turn": 0, "join_turn": 3}, "join_turn", "at most 2"),
        ({"node": "a", "at_turn": 1, "join_turn": 1}, "join_turn", "must come after"),
        ({"node": "a", "at_turn": 0, "join": "detach", "join_turn": 1}, "join_turn", "detached"),
        ({"node": "root", "at_turn": 0}, "node", "main agent"),
        ({"node": "a", "at_turn": 0, "context": "system"}, "context", "system_prompt_tokens"),
        ({"node": "a", "at_turn": 0, "context": "fork"}, "context", "'parent', 'system' or 'none'"),
        ({"node": "a", "at_turn": 0, "result_tokens": 150}, "result_tokens", "more than that turn's 100"),
        ({"node": "a", "at_turn": 0, "turns": 3}, "turns", "says 3 turns"),
        ({"node": "a", "at_turn": 0, "colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_bad_node_lines_name_line_and_field(
    tmp_path: Path, node: dict[str, Any], field: str, words: str
) -> None:
    err = load_error(_tree(tmp_path, turn(0), turn(1), node, turn(0)))
    assert err.line == 4 and (err.field or "") == field and words in err.reason, err


def test_structure_errors(tmp_path: Path) -> None:
    a0, b0 = {"node": "a", "at_turn": 0}, {"node": "b", "at_turn": 0}
    dup = load_error(_tree(tmp_path, turn(0), a0, turn(0), a0))
    assert (dup.line, dup.field) == (5, "node") and "twice" in dup.reason
    empty = load_error(_tree(tmp_path, turn(0), a0, b0, turn(0)))
    assert (empty.line, empty.field) == (3, "node") and "no turns" in empty.reason
    order = load_error(_tree(tmp_path, turn(0), {"node": "a", "at_turn": 0}, turn(1)))
    assert (order.line, order.field) == (4, "i")
    count = load_error(_tree(tmp_path, turn(0), a0, turn(0), header=V2 | {"subagents": 2}))
    assert count.field == "subagents" and "2 sub-agents" in count.reason
    no_root = load_error(_tree(tmp_path, {"node": "a", "at_turn": 0}, turn(0)))
    assert (no_root.line, no_root.field) == (2, "node") and "come first" in no_root.reason


def test_block_hash_rules(tmp_path: Path) -> None:
    hdr = V2 | {"block_size": 64}
    ok = load_trajectory(_tree(tmp_path, turn(0, new_input_tokens=130, block_hashes=[1, 2]),
                               turn(1, new_input_tokens=2, cached_prefix_tokens=126, block_hashes=[1, 2]),
                               header=hdr))
    assert ok.turns[0].block_hashes == (1, 2)  # type: ignore[union-attr]
    few = load_error(_tree(tmp_path, turn(0, new_input_tokens=200, block_hashes=[1, 2]), header=hdr))
    assert (few.line, few.field) == (2, "block_hashes") and "expected 3 or 4" in few.reason
    many = load_error(_tree(tmp_path, turn(0, new_input_tokens=128, block_hashes=[1, 2, 3]), header=hdr))
    assert "expected 2" in many.reason
    missing = load_error(_tree(tmp_path, turn(0, block_hashes=[1, 2]), turn(1), header=hdr))
    assert (missing.line, missing.field) == (3, "block_hashes") and "every turn" in missing.reason
    no_size = load_error(_tree(tmp_path, turn(0, block_hashes=[1, 2])))
    assert "block_size" in no_size.reason
    negative = load_error(_tree(tmp_path, turn(0, block_hashes=[-1, 2]), header=hdr))
    assert negative.field == "block_hashes.0"
    text = load_error(write_lines(tmp_path / "t.jsonl", V2 | {"kind": "text", "block_size": 64},
                         {"i": 0, "append": [], "output_tokens": 1}))
    assert (text.line, text.field) == (1, "block_size")


def test_streaming_reader_and_sets_refuse_trees_unless_asked(tmp_path: Path) -> None:
    path = _tree(tmp_path, turn(0), {"node": "a", "at_turn": 0}, turn(0))
    _, turns = iter_trajectory(path)
    assert next(turns).i == 0
    with pytest.raises(TrajectoryError) as info:
        next(turns)
    assert (info.value.line, info.value.field) == (3, "node") and "load_trajectory" in info.value.reason
    with pytest.raises(TrajectoryError) as refused:
        load_set(tmp_path)
    assert refused.value.field == "subagents" and "linear trajectories only" in refused.value.reason
    assert load_set(tmp_path, trees=True)[0].is_tree


def test_text_tree_contexts(tmp_path: Path) -> None:
    def text_turn(i: int, *msgs: tuple[str, str], **kw: object) -> dict[str, object]:
        return {"i": i, "append": [{"role": r, "content": c} for r, c in msgs], "output_tokens": 5} | kw

    path = write_lines(
        tmp_path / "text.jsonl", V2 | {"kind": "text"},
        text_turn(0, ("system", "S"), ("user", "task")),
        text_turn(1, ("assistant", "spawn"), ("tool", "results")),
        {"node": "fork", "at_turn": 1, "context": "parent"}, text_turn(0, ("user", "look deeper")),
        {"node": "sys", "at_turn": 0, "context": "system"}, text_turn(0, ("user", "run the tests")),
        {"node": "fresh", "at_turn": 0}, text_turn(0, ("user", "alone")),
    )
    sent = tree_text_messages(load_trajectory(path), prefix="P")
    assert [m["content"] for m in sent["fork"][0]] == ["P\n\nS", "task", "spawn", "results", "look deeper"]
    assert [m["content"] for m in sent["sys"][0]] == ["P\n\nS", "run the tests"]
    assert [m["content"] for m in sent["fresh"][0]] == ["P\n\nalone"]
    assert sent["root"][1][:2] == sent["fork"][0][:2]
