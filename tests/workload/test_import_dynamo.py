"""Dynamo request traces (dynamo.request.trace.v1) to agent trees: parent links, timing, block hashes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from agentperf_tui.cli import main
from agentperf_tui.core.workload.importers.dynamo import import_dynamo
from agentperf_tui.core.workload.trajectory import TokenTurn, TrajectoryError, load_set, load_trajectory
from agentperf_tui.core.workload.tree import tree_of
from agentperf_tui.core.workload.tree_replay import timeline
from agentperf_tui.core.workload.tree_stats import tree_stats

TRACE = Path(__file__).parent / "data" / "dynamo" / "request-trace.jsonl"


def _records() -> list[dict[str, Any]]:
    out = []
    for line in TRACE.read_text().splitlines():
        obj = json.loads(line)
        obj = obj.get("event", obj) if "schema" not in obj else obj
        if obj.get("event_type") == "request_end" and obj.get("agent_context"):
            out.append(obj)
    return out


def _key(ctx: dict[str, Any]) -> str:
    return str(ctx.get("trajectory_id") or ctx["session_id"])


def test_trees_from_parent_links(tmp_path: Path) -> None:
    report = import_dynamo(TRACE, tmp_path / "d")
    legacy, run = load_set(tmp_path / "d", trees=True)
    assert run.id == "run-1:main" and legacy.id == "legacy-7"
    root = tree_of(run)
    (fork,) = root.forks_after(0)
    assert sorted(c.id for c in fork.children) == ["run-1:explore", "run-1:test"] and fork.joins_before == 1
    explore = next(c for c in fork.children if c.id == "run-1:explore")
    assert explore.spec is not None and explore.spec.context == "parent"  # its prompt starts with main's
    (nested,) = explore.forks_after(0)
    assert nested.children[0].id == "run-1:explore:grep" and nested.joins_before == 1
    assert run.header.block_size == 16 and run.header.hash_scope == "set"
    # the older field names (session_id / parent_session_id) link trees too
    assert [s.id for s in legacy.subagents] == ["legacy-7-sub"]
    assert [t.cached_prefix_tokens for t in legacy.turns] == [0, 300]  # the recorded cached tokens
    notes = " | ".join(report.notes)
    assert "1 request records had no agent context" in notes and "1 tool events" in notes


def test_statistics_and_timing_match_the_source(tmp_path: Path) -> None:
    import_dynamo(TRACE, tmp_path / "d")
    recs = _records()
    trajs = {t.id: t for t in load_set(tmp_path / "d", trees=True)}
    for tree_id, members in (("run-1:main", "run-1"), ("legacy-7", "legacy-7")):
        mine = [r for r in recs if _key(r["agent_context"]).startswith(members)]
        s = tree_stats(trajs[tree_id])
        assert s.requests == len(mine)
        assert s.subagent_requests == sum(_key(r["agent_context"]) != tree_id for r in mine)
        assert s.tokens == sum(r["request"]["input_tokens"] + r["request"]["output_tokens"] for r in mine)
        t0 = min(r["request"]["request_received_ms"] for r in mine)
        starts = sorted(round(r.start, 6) for r in timeline(tree_of(trajs[tree_id])))
        assert starts == sorted(round((r["request"]["request_received_ms"] - t0) / 1000, 6) for r in mine)
    main_turns = [t for t in trajs["run-1:main"].turns if isinstance(t, TokenTurn)]
    # main waited for explore (which waited for grep) and test: 0.3 s from the last of them to its next call
    assert main_turns[0].tool_delay_s == 0.3 and main_turns[0].recorded_duration_s == 2.0
    assert main_turns[1].block_hashes is not None and len(main_turns[1].block_hashes) == 10


def test_gzip_segments_and_the_sink_envelope(tmp_path: Path) -> None:
    seg = tmp_path / "segs"
    seg.mkdir()
    lines = TRACE.read_bytes().splitlines(keepends=True)
    (seg / "request-trace.000000.jsonl.gz").write_bytes(gzip.compress(b"".join(lines[:5])))
    (seg / "request-trace.000001.jsonl.gz").write_bytes(gzip.compress(b"".join(lines[5:])))
    import_dynamo(seg, tmp_path / "from-gz")
    import_dynamo(TRACE, tmp_path / "plain")
    for name in ("legacy-7.jsonl", "run-1_main.jsonl"):
        a = load_trajectory(tmp_path / "from-gz" / name)
        b = load_trajectory(tmp_path / "plain" / name)
        assert (a.turns, a.subagents) == (b.turns, b.subagents)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["trajectories", "import", "--from", "dynamo", str(TRACE), "-o", str(out)]) == 0
    assert "imported 2 trajectories (9 turns)" in capsys.readouterr().out
    assert main(["trajectories", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "sub-agents: 4 in 2 of 2 trajectories, 3 forks" in shown
    assert "recorded block hashes in 1 of 2 trajectories, implied in the rest" in shown


V1 = {"schema": "dynamo.request.trace.v1", "event_type": "request_end", "agent_context": {"session_id": "s"},
      "event_time_unix_ms": 5}


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        (V1 | {"schema": "dynamo.request.trace.v2"}, "schema", "dynamo.request.trace.v1"),
        (V1 | {"request": {"input_tokens": -1, "output_tokens": 3}}, "request.input_tokens", "non-negative"),
        (V1 | {"request": {"output_tokens": 3, "replay": {"trace_block_size": 0, "input_length": 4,
                                                          "input_sequence_hashes": []}}},
         "request.replay.trace_block_size", "positive integer"),
    ],
)
def test_bad_records_name_line_and_field(
    tmp_path: Path, record: dict[str, Any], field: str, words: str
) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"verification": "marker"}\n' + json.dumps(record) + "\n")
    with pytest.raises(TrajectoryError) as info:
        import_dynamo(src, tmp_path / "o")
    assert (info.value.path, info.value.line, info.value.field) == (str(src), 2, field)
    assert words in info.value.reason


def test_a_capture_without_agent_context(tmp_path: Path) -> None:
    src = tmp_path / "plain.jsonl"
    record = {k: v for k, v in V1.items() if k != "agent_context"} | {"request": {"output_tokens": 2}}
    src.write_text(json.dumps(record) + "\n")
    with pytest.raises(TrajectoryError, match="no request records with an agent context"):
        import_dynamo(src, tmp_path / "o")
