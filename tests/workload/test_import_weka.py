"""Weka / AgentX traces to agentperf-traj/2 trees: structure, timing and statistics match the source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentperf_tui.cli import main
from agentperf_tui.core.workload.importers.weka import import_weka
from agentperf_tui.core.workload.trajectory import TokenTurn, TrajectoryError, load_set, load_trajectory
from agentperf_tui.core.workload.tree import tree_of
from agentperf_tui.core.workload.tree_replay import timeline
from agentperf_tui.core.workload.tree_stats import tree_stats

WEKA = Path(__file__).parent / "data" / "weka"


def _source_calls(entries: list[dict[str, Any]], node: str, base: float, relative: bool, depth: int,
                  out: list[dict[str, Any]]) -> None:
    """Every call a replay keeps, with its absolute time, node and depth (markers before any call
    of their parent cannot be placed and are left out, as the format documents)."""
    seen_call = False
    for e in entries:
        if e["type"] == "subagent":
            if seen_call:
                sub_base = base + e["t"] if relative else 0.0
                _source_calls(e["requests"], e["agent_id"], sub_base, relative, depth + 1, out)
        else:
            seen_call = True
            out.append({"node": node, "t": base + e["t"], "depth": depth, "in": e["in"], "out": e["out"],
                        "hashes": e["hash_ids"]})


def _source_stats(path: Path, relative: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    text = path.read_text()
    trace = json.loads(text.splitlines()[0] if path.suffix == ".jsonl" else text)
    calls: list[dict[str, Any]] = []
    _source_calls(trace["requests"], "root", 0.0, relative, 0, calls)
    bs = trace["block_size"]
    seen: set[int] = set()
    hit = 0
    for c in sorted(calls, key=lambda c: c["t"]):  # a perfect prefix cache, in recorded time order
        n = 0
        for h in c["hashes"]:
            if h not in seen:
                break
            n += 1
        hit += min(c["in"], n * bs)
        seen.update(c["hashes"])
    subs = {c["node"] for c in calls if c["node"] != "root"}
    return {
        "requests": len(calls),
        "subagent_requests": sum(c["node"] != "root" for c in calls),
        "subagents": len(subs),
        "depth": max(c["depth"] for c in calls),
        "tokens": sum(c["in"] + c["out"] for c in calls),
        "prompt_tokens": sum(c["in"] for c in calls),
        "hit_tokens": hit,
    }, calls


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    out = tmp_path / "w"
    report = import_weka(WEKA, out)
    assert report.trajectories == 2
    return out


@pytest.mark.parametrize(("name", "file", "relative"), [("trace-a", "trace_a.json", False),
                                                         ("trace-b", "raw_traces.jsonl", True)])
def test_statistics_and_timing_match_the_source(imported: Path, name: str, file: str, relative: bool) -> None:
    traj = load_trajectory(imported / f"{name}.jsonl")
    want, calls = _source_stats(WEKA / file, relative)
    s = tree_stats(traj)
    got = {k: getattr(s, k) for k in want}
    assert got == want
    assert traj.header.source["subagent_timestamps"] == ("relative" if relative else "absolute")
    # laid out with the recorded durations, the tree starts every call when the recording did
    starts = sorted((r.node, round(r.start, 6)) for r in timeline(tree_of(traj)))
    assert starts == sorted((c["node"], round(c["t"], 6)) for c in calls)


def test_tree_shape_of_trace_a(imported: Path) -> None:
    traj = load_trajectory(imported / "trace-a.jsonl")
    root = tree_of(traj)
    (fork,) = root.forks_after(1)
    assert sorted(c.id for c in fork.children) == ["agent_001", "agent_002"] and fork.joins_before == 2
    (bg,) = root.forks_after(3)
    assert bg.detached and bg.children[0].spec is not None and bg.children[0].spec.source["status"] == \
        "async_launched"
    explore = next(c for c in fork.children if c.id == "agent_001")
    assert explore.spec is not None and explore.spec.label == "Explore" and explore.start_offset_s == 0.3
    (nested,) = explore.forks_after(1)
    assert nested.children[0].id == "agent_003" and nested.joins_before == 2
    turns = [t for t in traj.turns if isinstance(t, TokenTurn)]
    # a user message (input_types "text") is human think time before it, a tool result tool time
    assert turns[3].think_time_s == 9.0 and turns[2].tool_delay_s == 0.0
    # the join waited for agent_001 (it ended at 8.3): 0.7 s of tool time before the next call at 9.0
    assert turns[1].tool_delay_s == 0.7
    assert traj.header.block_size == 64 and traj.header.hash_scope == "trajectory"
    assert turns[1].block_hashes == tuple(range(11)) and turns[1].cached_prefix_tokens == 640


def test_a_sub_agent_sharing_its_parent_context(imported: Path) -> None:
    traj = load_trajectory(imported / "trace-b.jsonl")
    plan_kid = next(s for s in traj.subagents if s.id == "agent_y")
    assert plan_kid.spec.context == "parent" and plan_kid.turns[0].cached_prefix_tokens == 512
    late = next(s for s in traj.subagents if s.id == "agent_z")
    assert late.spec.join == "detach"  # it ran past the parent's last call
    assert "agent_x" not in {s.id for s in traj.subagents}


def test_report_says_what_did_not_carry_over(tmp_path: Path) -> None:
    notes = " | ".join(import_weka(WEKA, tmp_path / "o").notes)
    for words in ("1 of 2 traces time their sub-agent calls from the sub-agent marker",
                  "1 sub-agents came before any call of their parent and were dropped",
                  "1 sub-agents were launched asynchronously",
                  "1 sub-agents were still running when their parent sent its last request",
                  "2 models", "per-request model names", "also ignored: totals"):
        assert words in notes


def test_cli_import_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["trajectories", "import", "--from", "weka", str(WEKA / "trace_a.json"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "imported 1 trajectories (11 turns)" in printed and "async_launched" in printed
    assert main(["trajectories", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    s = tree_stats(load_set(out, trees=True)[0])
    assert f"sub-agents: {s.subagents} in 1 of 1 trajectories" in shown
    assert f"{100 * s.subagent_requests / s.requests:.1f}% of requests" in shown
    assert f"{100 * (s.hit_tokens or 0) / s.prompt_tokens:.1f}% of prompt tokens" in shown
    assert "recorded block hashes; 64-token blocks" in shown and "recorded timing, 1 of 1 trees" in shown


@pytest.mark.parametrize(
    ("content", "line", "field", "words"),
    [
        ('{"id": "x", "block_size": 64, "requests": [{"t": 0, "type": "n", "in": -5, "out": 1}]}\n', 1,
         "requests.0.n.in", "greater than or equal"),
        ('{"id": "x", "requests": []}\n', 1, "block_size", "Field required"),
        ('{"id": "x", "block_size": 64, "requests": [{"t": 0, "type": "q"}]}\n', 1, "requests.0", "tag"),
        ('{"id": "x", "block_size": 64, "requests": []}\n{"id": \n', 2, None, "malformed JSON"),
        ("[1, 2]\n", 1, None, "one JSON object"),
    ],
)
def test_bad_traces_name_file_line_and_field(
    tmp_path: Path, content: str, line: int, field: str | None, words: str
) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text(content)
    with pytest.raises(TrajectoryError) as info:
        import_weka(src, tmp_path / "o")
    err = info.value
    assert (err.path, err.line, err.field) == (str(src), line, field) and words in err.reason


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryError, match="cannot open"):
        import_weka(tmp_path / "nope.json", tmp_path / "o")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrajectoryError, match=r"no \*\.json"):
        import_weka(tmp_path / "empty", tmp_path / "o")


def test_show_prints_the_tree_figures_of_the_imported_traces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fan-out, depth, concurrency inside a tree, the sub-agents' share of tokens and the implied
    cache-hit ratio, as `trajectories show` prints them for both traces, against tree_stats."""
    out = tmp_path / "both"
    assert main(["trajectories", "import", "--from", "weka", str(WEKA), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["trajectories", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    stats = [tree_stats(t) for t in load_set(out, trees=True)]
    fan = [f for s in stats for f in s.fanouts]
    assert sorted(fan) == [1, 1, 1, 1, 2]  # trace-a: a pair, a nested one, a detached one; trace-b: two
    assert ("sub-agents: 6 in 2 of 2 trajectories, 5 forks; sub-agents per fork: mean 1.20, max 2; "
            "depth: max 2; detached: 2") in shown
    tokens = sum(s.tokens for s in stats)
    assert f"{100 * sum(s.subagent_tokens for s in stats) / tokens:.1f}% of tokens (prompt + output)" in shown
    # trace-a runs two sub-agents side by side; trace-b's sub-agents never overlap another request
    assert [s.peak_structural for s in stats] == [2, 1] and [s.peak_recorded for s in stats] == [2, 1]
    assert ("peak requests in flight inside one tree: max 2, median 1.5 (structural bound); max 2, "
            "median 1.5 (recorded timing, 2 of 2 trees)") in shown
    hits = sum(s.hit_tokens or 0 for s in stats) / sum(s.prompt_tokens for s in stats)
    assert f"implied prefix-cache hit ratio: {100 * hits:.1f}% of prompt tokens" in shown
