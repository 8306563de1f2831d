"""TreeReplay: the schedule of one tree replay, driven by reply completions."""

from __future__ import annotations

import heapq
import random
from pathlib import Path

import orjson
import pytest

from agentperf_tui.core.workload.trajectory import load_trajectory
from agentperf_tui.core.workload.tree import Node, tree_of
from agentperf_tui.core.workload.tree_replay import Due, TreeReplay, timeline

V2 = {"format": "agentperf-traj/2", "id": "r", "kind": "tokens"}


def _t(i: int, **kw: object) -> dict[str, object]:
    return {"i": i, "new_input_tokens": 100, "output_tokens": 10} | kw


def _tree(tmp_path: Path) -> Node:
    lines = [
        V2, _t(0, tool_delay_s=0.5), _t(1, tool_delay_s=0.5, think_time_s=3.0),
        _t(2, tool_delay_s=1.0), _t(3),
        {"node": "a", "at_turn": 0, "start_offset_s": 0.2}, _t(0, tool_delay_s=0.1), _t(1),
        {"node": "b", "at_turn": 0}, _t(0),
        {"node": "b1", "parent": "b", "at_turn": 0, "join_turn": 1}, _t(0),
        {"node": "late", "at_turn": 1, "join_turn": 3}, _t(0), _t(1),
        {"node": "bg", "at_turn": 2, "join": "detach"}, _t(0),
    ]
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in lines))
    return tree_of(load_trajectory(path))


def _drive(
    root: Node, duration: dict[tuple[str, int], float], *, shuffle: random.Random | None = None, **kw: object
) -> tuple[dict[tuple[str, int], float], TreeReplay]:
    """Send every due request at once; process reply ends in time order, or shuffled."""
    replay = TreeReplay(root, **kw)  # type: ignore[arg-type]
    pending: list[Due] = replay.start(10.0)
    sent: dict[tuple[str, int], float] = {}
    ends: list[tuple[float, str, int]] = []
    while pending or ends:
        for due in pending:
            sent[(due.node.id, due.turn)] = due.at
            ends.append((due.at + duration[(due.node.id, due.turn)], due.node.id, due.turn))
        pending = []
        if shuffle is not None:
            shuffle.shuffle(ends)
            t, node, turn = ends.pop()
        else:
            heapq.heapify(ends)
            t, node, turn = heapq.heappop(ends)
        pending = replay.reply_done(node, turn, t)
    return sent, replay


def test_the_driver_order_does_not_matter_and_timeline_agrees(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    rng = random.Random(4)
    duration = {(n.id, k): rng.uniform(0.5, 3.0) for n in root.walk() for k in range(len(n.turns))}
    in_order, replay = _drive(root, duration, think_time=True)
    shuffled, _ = _drive(root, duration, shuffle=random.Random(9), think_time=True)
    assert in_order == shuffled
    laid_out = timeline(root, lambda n, k: duration[(n.id, k)])
    assert in_order == pytest.approx({(r.node, r.turn): r.start + 10.0 for r in laid_out})
    # every request of the tree is sent exactly once, and the tree ends with its last node
    assert len(in_order) == sum(len(n.turns) for n in root.walk()) == 11
    assert replay.finished and replay.finished_at == pytest.approx(max(r.end for r in laid_out) + 10.0)


def test_joins_wait_and_detached_agents_do_not(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    duration = {(n.id, k): 1.0 for n in root.walk() for k in range(len(n.turns))}
    duration[("bg", 0)] = 100.0
    duration[("late", 1)] = 20.0
    sent, replay = _drive(root, duration)
    # a (1.2-2.2, 2.3-3.3) and b (1.0-2.0, waiting for b1 2.0-3.0) join before root turn 1
    assert sent[("a", 0)] == pytest.approx(11.2) and sent[("b1", 0)] == pytest.approx(12.0)
    assert sent[("root", 1)] == pytest.approx(13.8)  # 3.3 + 0.5 tool delay; think time is off by default
    # late runs 14.8-15.8 and 15.8-35.8 after root turn 1; root turn 3 waits for it, then 1.0 s tool time
    assert sent[("root", 2)] == pytest.approx(15.3) and sent[("root", 3)] == pytest.approx(36.8)
    # bg, detached at turn 2 (reply ends 16.3), holds nothing back but the end of the tree
    assert sent[("bg", 0)] == pytest.approx(16.3) and replay.finished_at == pytest.approx(116.3)


def test_a_drawn_tool_delay_replaces_the_recorded_one(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    duration = {(n.id, k): 1.0 for n in root.walk() for k in range(len(n.turns))}
    drawn: list[tuple[str, int]] = []

    def delay(node: Node, k: int) -> float:
        drawn.append((node.id, k))
        return 0.0

    sent, _ = _drive(root, duration, tool_delay=delay)
    assert sent[("a", 1)] == pytest.approx(12.2) and sent[("root", 1)] == pytest.approx(13.2)
    assert sorted(drawn) == [("a", 0), ("late", 0), ("root", 0), ("root", 1), ("root", 2)]
