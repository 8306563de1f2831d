"""Mooncake-style request traces: sessions (recorded or found by hash prefixes), hashes and statistics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentperf_tui.cli import main
from agentperf_tui.core.workload.importers.mooncake import import_mooncake
from agentperf_tui.core.workload.trajectory import TokenTurn, TrajectoryError, load_set
from agentperf_tui.core.workload.tree_stats import shared_across, tree_stats

MOONCAKE = Path(__file__).parent / "data" / "mooncake"


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (MOONCAKE / name).read_text().splitlines() if line.strip()]


def test_sessions_found_by_hash_prefixes(tmp_path: Path) -> None:
    report = import_mooncake(MOONCAKE / "chains.jsonl", tmp_path / "m")
    trajs = load_set(tmp_path / "m")
    # a request continues the session whose latest request's full blocks start its own prompt
    assert [t.header.source["lines"] for t in trajs] == [[1, 3, 5], [2, 6], [4, 8], [7]]
    assert all(t.header.block_size == 512 and t.header.hash_scope == "set" for t in trajs)
    assert "8 requests had no session id" in " | ".join(report.notes)
    rows = _rows("chains.jsonl")
    # the source's own figures: requests, tokens, and (for the sessions found) the reuse inside each
    stats = [tree_stats(t) for t in trajs]
    assert sum(s.requests for s in stats) == len(rows)
    assert sum(s.tokens for s in stats) == sum(r["input_length"] + r["output_length"] for r in rows)
    hit = 0
    for t in trajs:
        seen: set[int] = set()
        for line in t.header.source["lines"]:
            r = rows[line - 1]
            n = next((k for k, h in enumerate(r["hash_ids"]) if h not in seen), len(r["hash_ids"]))
            hit += min(r["input_length"], n * 512)
            seen.update(r["hash_ids"])
    assert sum(s.hit_tokens or 0 for s in stats) == hit
    # blocks that several sessions share (hash 0: a common system prompt), as counted in the source
    owners: dict[int, set[int]] = {}
    for k, t in enumerate(trajs):
        for line in t.header.source["lines"]:
            for h in rows[line - 1]["hash_ids"]:
                owners.setdefault(h, set()).add(k)
    shared = shared_across(trajs)
    assert shared is not None
    assert (shared.distinct, shared.across) == (len(owners), sum(len(o) > 1 for o in owners.values()))
    assert f"{shared.across} of {shared.distinct} distinct blocks occur in more than one session" in \
        " | ".join(report.notes)
    first = [t for t in trajs[0].turns if isinstance(t, TokenTurn)]
    assert [t.block_hashes for t in first] == [(0, 1, 2), (0, 1, 5, 6), (0, 1, 5, 9, 10)]
    assert [t.cached_prefix_tokens for t in first] == [0, 1024, 1536]
    assert all(t.tool_delay_s == 0.0 for t in first)


def test_recorded_sessions_and_delays(tmp_path: Path) -> None:
    report = import_mooncake(MOONCAKE / "sessions.jsonl", tmp_path / "s")
    s1, s2 = load_set(tmp_path / "s")
    assert (s1.id, s2.id) == ("s-1", "s-2") and s1.header.source["session"] == "recorded"
    assert [t.tool_delay_s for t in s1.turns] == [2.0, 0.5, 0.0]
    assert [t.prompt_tokens for t in s1.turns if isinstance(t, TokenTurn)] == [600, 1300, 1600]
    assert "1 rows carry text" in " | ".join(report.notes)


def test_block_size_option_and_hash_fitting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b"
    assert main(["trajectories", "import", "--from", "mooncake", "--block-size", "256",
                 str(MOONCAKE / "sessions.jsonl"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fewer block hashes than their prompt has full blocks" in printed
    s1 = load_set(out)[0]
    assert s1.header.block_size == 256
    hashes = [t.block_hashes for t in s1.turns if isinstance(t, TokenTurn)]
    # 600 tokens in 256-token blocks may carry 2 or 3 hashes: the recorded two fit; 1300 needs 5 at least
    assert hashes[0] == (0, 1)
    assert hashes[1] is not None and hashes[1][:3] == (0, 1, 2) and len(hashes[1]) == 5
    assert main(["trajectories", "import", "--from", "weka", "--block-size", "64",
                 str(MOONCAKE / "sessions.jsonl"), "-o", str(tmp_path / "x")]) == 2
    assert "--from mooncake only" in capsys.readouterr().err


def test_bad_rows_name_line_and_field(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"timestamp": 0, "input_length": 10, "hash_ids": [1]}\n{"input_length": -4}\n')
    with pytest.raises(TrajectoryError) as info:
        import_mooncake(src, tmp_path / "o")
    assert (info.value.line, info.value.field) == (2, "input_length")
    src.write_text('{"timestamp": 0, "input_length": 10}\n{"timestamp": \n')
    with pytest.raises(TrajectoryError) as info:
        import_mooncake(src, tmp_path / "o")
    assert info.value.line == 2 and "malformed JSON" in info.value.reason
