"""agentperf-local importer, checked on Artificial Analysis' own recorded traces."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest

from agentperf_tui.core.workload.importers.aa_local import delta, import_aa_local
from agentperf_tui.core.workload.text_replay import (
    apply_text_turn,
    build_text_turn_messages,
    tools_for_turn,
)
from agentperf_tui.core.workload.trajectory import TextTurn, TrajectoryError, load_set


def _rows(manifest: Path) -> dict[str, list[dict[str, Any]]]:
    tasks = orjson.loads(manifest.read_bytes())["tasks"]
    out = {}
    for task in tasks:
        lines = (manifest.parent / task["trace"]).read_bytes().splitlines()
        out[task["task_id"]] = [orjson.loads(line) for line in lines if line.strip()]
    return out


@pytest.mark.parametrize("which", ["aa_default_manifest", "aa_mini_manifest"])
def test_reconstruction_and_counts(which: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    manifest: Path = request.getfixturevalue(which)
    report = import_aa_local(manifest.parent, tmp_path)
    rows_by_task = _rows(manifest)
    trajectories = load_set(tmp_path)
    assert {t.id for t in trajectories} == set(rows_by_task)
    assert report.turns == sum(len(r) for r in rows_by_task.values())
    manifest_tasks = {t["task_id"]: t for t in orjson.loads(manifest.read_bytes())["tasks"]}
    for traj in trajectories:
        rows = rows_by_task[traj.id]
        assert traj.kind == "text" and len(traj.turns) == len(rows)
        assert traj.header.source["licence"] == "Apache-2.0"
        assert traj.header.source["importer"] == "aa-agentperf-local"
        assert traj.header.source["task_id"] == traj.id
        assert traj.header.required_context_tokens == manifest_tasks[traj.id]["required_context_tokens"]
        context: list[dict[str, Any]] = []
        for turn, row in zip(traj.turns, rows, strict=True):
            assert isinstance(turn, TextTurn)
            context = apply_text_turn(context, turn)
            assert context == row["messages"], f"{traj.id} turn {turn.i}: rebuilt history differs"
            assert tools_for_turn(traj.header, turn) == (row["tools"] or None)
            assert turn.output_tokens == row["target_output_tokens"]
            assert turn.recorded_prompt_tokens == row.get("recorded_prompt_tokens")
            assert turn.recorded_output_tokens == row.get("recorded_completion_tokens")
            assert turn.tool_delay_s == pytest.approx(row["simulated_tool_delay_ms_after"] / 1000.0)
            assert turn.think_time_s == 0.0


def test_default_replay_is_stored_as_deltas(aa_default_manifest: Path, tmp_path: Path) -> None:
    import_aa_local(aa_default_manifest, tmp_path)
    source_bytes = sum(p.stat().st_size for p in (aa_default_manifest.parent / "traces").glob("*.jsonl"))
    out_bytes = sum(p.stat().st_size for p in tmp_path.glob("*.jsonl"))
    assert out_bytes * 4 < source_bytes
    for traj in load_set(tmp_path):
        # nothing in this replay rewrites recorded conversation
        assert not any(t.compacted for t in traj.turns)
        # the SWE-bench traces end each request with a "Tool-call turn k of 100" reminder that the
        # next request replaces: stored as drop_last, the earlier conversation stays a shared prefix
        if traj.id.startswith("django"):
            assert all(t.drop_last == 1 for t in traj.turns[1:])  # type: ignore[union-attr]
        else:
            assert all(t.drop_last == 0 for t in traj.turns)  # type: ignore[union-attr]


def test_recorded_prompt_counts_are_the_ones_aa_published(aa_default_manifest: Path, tmp_path: Path) -> None:
    import_aa_local(aa_default_manifest, tmp_path)
    by_id = {t.id: t for t in load_set(tmp_path)}
    first = by_id["django__django-15851"].turns[0]
    assert isinstance(first, TextTurn)
    recorded = (first.recorded_prompt_tokens, first.recorded_output_tokens, first.output_tokens)
    assert recorded == (1545, 138, 138)


def test_mini_replay_tool_override(aa_mini_manifest: Path, tmp_path: Path) -> None:
    import_aa_local(aa_mini_manifest, tmp_path)
    (traj,) = load_set(tmp_path)
    assert traj.header.tools and len(traj.header.tools) == 4
    overrides = [t.tools for t in traj.turns]  # type: ignore[union-attr]
    assert overrides[:-1] == [None] * 5 and overrides[-1] == []
    assert tools_for_turn(traj.header, traj.turns[-1]) is None  # type: ignore[arg-type]


def test_dynamic_prefix_is_first_and_stable(aa_mini_manifest: Path, tmp_path: Path) -> None:
    import_aa_local(aa_mini_manifest, tmp_path)
    (traj,) = load_set(tmp_path)
    sent = list(build_text_turn_messages(traj.turns, prefix="marker-123"))  # type: ignore[arg-type]
    assert all(m[0]["content"].startswith("marker-123\n\n") for m in sent)
    for a, b in itertools.pairwise(sent):
        assert b[: len(a)] == a  # each request extends the previous one: prefix caching can work


def test_delta_rules() -> None:
    sys = {"role": "system", "content": "s"}
    u = {"role": "user", "content": "u"}
    a = {"role": "assistant", "content": "a"}
    t = {"role": "tool", "content": "t", "tool_call_id": "1"}
    remind1 = {"role": "user", "content": "turn 1"}
    remind2 = {"role": "user", "content": "turn 2"}
    assert delta([sys, u], [sys, u, a, t]) == ([a, t], 0, False)
    assert delta([sys, u, remind1], [sys, u, a, t, remind2]) == ([a, t, remind2], 1, False)
    summary = {"role": "user", "content": "summary"}
    assert delta([sys, u, a, t], [sys, summary]) == ([sys, summary], 0, True)
    assert delta([u], [sys, u]) == ([sys, u], 0, True)


def _manifest(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    (tmp_path / "traces").mkdir(parents=True)
    (tmp_path / "traces" / "x.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    m = {"name": "t", "tasks": [{"task_id": "x", "trace": "traces/x.jsonl", "required_context_tokens": 4096}]}
    (tmp_path / "manifest.json").write_bytes(orjson.dumps(m))
    return tmp_path / "manifest.json"


def test_bad_rows_are_named(tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "hi"}], "target_output_tokens": 5}
    manifest = _manifest(tmp_path / "src", [good, good | {"target_output_tokens": -1}])
    with pytest.raises(TrajectoryError) as info:
        import_aa_local(manifest, tmp_path / "out")
    assert info.value.path.endswith("x.jsonl") and info.value.line == 2
    assert info.value.field == "target_output_tokens"


def test_bad_message_role_is_named(tmp_path: Path) -> None:
    row = {"messages": [{"role": "wizard", "content": "hi"}], "target_output_tokens": 5}
    with pytest.raises(TrajectoryError) as info:
        import_aa_local(_manifest(tmp_path / "src", [row]), tmp_path / "out")
    assert info.value.line == 1 and info.value.field == "messages.0.role"


def test_missing_manifest_and_nonempty_output(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryError, match=r"manifest\.json"):
        import_aa_local(tmp_path, tmp_path / "out")
    row = {"messages": [{"role": "user", "content": "hi"}], "target_output_tokens": 5}
    manifest = _manifest(tmp_path / "src", [row])
    import_aa_local(manifest, tmp_path / "out")
    with pytest.raises(TrajectoryError, match="--force"):
        import_aa_local(manifest, tmp_path / "out")
    assert import_aa_local(manifest, tmp_path / "out", overwrite=True).trajectories == 1
