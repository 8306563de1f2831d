"""TraceLab importer: real example rounds, interleaved/out-of-order rows, bad rows, bounded memory."""

from __future__ import annotations

import random
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from agentperf_tui.core.workload.importers.tracelab import import_tracelab
from agentperf_tui.core.workload.trajectory import TokenTurn, TrajectoryError, load_set, load_trajectory

T0 = datetime(2026, 6, 1, 5, 0, 0, tzinfo=UTC)


def _iso(t: float) -> str:
    return (T0 + timedelta(seconds=t)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _row(sid: str, k: int, *, total: int, prefix: int, out: int, start: float, user: bool = False,
         tool_s: float | None = 1.0) -> dict[str, Any]:
    """A TraceLab-shaped round: input event at `start`, reply 2 s later, one tool of `tool_s`."""
    events: list[dict[str, Any]] = [
        {"event_type": "user_message" if user else "tool_result", "timestamp": _iso(start)},
        {"event_type": "text", "timestamp": _iso(start + 1.5)},
    ]
    tools = []
    if tool_s is not None:
        events.append({"event_type": "tool_call", "timestamp": _iso(start + 2.0)})
        tools.append({"tool_index": 0, "tool_name": "Bash", "emitted_at": _iso(start + 2.0),
                      "result_at": _iso(start + 2.0 + tool_s), "tool_wall_latency_ms": tool_s * 1000})
    return {
        "provider": "claude", "session_id": sid, "round_index": k, "model": "m",
        "input_tokens_total": total, "prefix_tokens": prefix, "newly_append_tokens": total - prefix,
        "output_tokens": out, "reasoning_output_tokens": None, "timing_events": events, "tools": tools,
        "first_input_event_type": "user_message" if user else "tool_result",
    }


def _session_rows(sid: str, rounds: int, rng: random.Random) -> list[dict[str, Any]]:
    rows, ctx, t = [], 4000, 0.0
    for k in range(rounds):
        out = rng.randint(20, 400)
        prefix = ctx if k else 0
        ctx += rng.randint(50, 800)
        rows.append(_row(sid, k, total=ctx, prefix=prefix, out=out, start=t, user=(k % 7 == 0)))
        ctx += out
        t += 10.0
    return rows


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_real_rounds_keep_recorded_counts(tracelab_rounds: Path, tmp_path: Path) -> None:
    rows = [orjson.loads(line) for line in tracelab_rounds.read_bytes().splitlines() if line.strip()]
    report = import_tracelab(tracelab_rounds, tmp_path)
    trajs = {t.id: t for t in load_set(tmp_path)}
    assert report.turns == len(rows) == 19
    assert set(trajs) == {r["session_id"] for r in rows}
    for row in rows:
        traj = trajs[row["session_id"]]
        turn = traj.turns[row["round_index"]]
        assert isinstance(turn, TokenTurn)
        assert turn.cached_prefix_tokens + turn.new_input_tokens == row["input_tokens_total"]
        assert turn.prompt_tokens == row["input_tokens_total"]
        assert turn.cached_prefix_tokens == row["prefix_tokens"]
        assert turn.output_tokens == row["output_tokens"]
        assert turn.reasoning_tokens == (row["reasoning_output_tokens"] or 0)
        assert (turn.think_time_s > 0) == (row["first_input_event_type"] == "user_message" and turn.i > 0)
        if not row["tools"]:
            assert turn.tool_delay_s == 0.0
        assert not turn.compacted
    for traj in trajs.values():
        src = traj.header.source
        assert src["attribution"] == "TraceLab, uw-syfi" and src["licence"] == "CC BY 4.0"
        assert traj.kind == "tokens"
        assert traj.header.required_context_tokens == max(
            r["input_tokens_total"] + r["output_tokens"] for r in rows if r["session_id"] == traj.id
        )
    claude = next(t for t in trajs.values() if t.id.startswith("claude:"))
    # round 0: Bash (0.86 s) and WebSearch (19.29 s) ran; the reply ended at the last tool call
    # (05:40:31.647) and the last result came at 05:40:50.938
    assert claude.turns[0].tool_delay_s == pytest.approx(19.291, abs=1e-3)
    # round 5 starts with the user's message 19.9 s after round 4's last event: human time
    assert claude.turns[5].think_time_s == pytest.approx(19.913, abs=1e-3)
    assert claude.turns[5].tool_delay_s == pytest.approx(16.113, abs=1e-3)


def test_interleaved_and_out_of_order_rows_give_the_same_result(tmp_path: Path) -> None:
    rng = random.Random(7)
    sessions = [_session_rows(f"s{n}", 12, rng) for n in range(5)]
    _write(tmp_path / "sorted.jsonl", [r for s in sessions for r in s])
    mixed = [r for k in range(12) for s in sessions for r in s[k : k + 1]]  # round-robin interleave
    mixed[0], mixed[10] = mixed[10], mixed[0]  # s0's round 2 before its round 0
    mixed[3], mixed[40] = mixed[40], mixed[3]
    _write(tmp_path / "mixed.jsonl", mixed)
    import_tracelab(tmp_path / "sorted.jsonl", tmp_path / "a")
    import_tracelab(tmp_path / "mixed.jsonl", tmp_path / "b", flush_lines=3)
    a = sorted(p.name for p in (tmp_path / "a").glob("*.jsonl"))
    assert a == sorted(p.name for p in (tmp_path / "b").glob("*.jsonl")) and len(a) == 5
    for name in a:
        ta, tb = load_trajectory(tmp_path / "a" / name), load_trajectory(tmp_path / "b" / name)
        assert ta.turns == tb.turns and len(ta.turns) == 12
    assert not list((tmp_path / "b").glob(".tracelab-import-*")), "spill files must be cleaned up"


def test_tool_delay_and_think_time_are_kept_apart(tmp_path: Path) -> None:
    rows = [
        _row("s", 0, total=1000, prefix=0, out=10, start=0.0, user=True, tool_s=2.5),
        _row("s", 1, total=1500, prefix=1000, out=10, start=4.5, tool_s=None),
        _row("s", 2, total=1800, prefix=1500, out=10, start=30.0, user=True, tool_s=0.25),
    ]
    import_tracelab(_write(tmp_path / "r.jsonl", rows), tmp_path / "o")
    (traj,) = load_set(tmp_path / "o")
    delays = [(t.tool_delay_s, t.think_time_s) for t in traj.turns]
    # round 0: tool emitted at 2.0, result at 4.5. Round 1 has no tool, its reply ends at 6.0;
    # the user speaks at 30.0 -> 24 s think time before round 2
    assert delays == [(2.5, 0.0), (0.0, 0.0), (0.25, 24.0)]


def test_compaction_is_a_large_shrink_of_the_prompt(tmp_path: Path) -> None:
    rows = [
        _row("s", 0, total=50_000, prefix=0, out=100, start=0),
        _row("s", 1, total=49_000, prefix=45_000, out=100, start=10),  # -2 %: trimming, not compaction
        _row("s", 2, total=9_000, prefix=3_000, out=100, start=20),  # -82 %: compaction
        _row("s", 3, total=9_600, prefix=9_000, out=100, start=30),
    ]
    report = import_tracelab(_write(tmp_path / "c.jsonl", rows), tmp_path / "o")
    (traj,) = load_set(tmp_path / "o")
    assert [t.compacted for t in traj.turns] == [False, False, True, False]
    assert any("1 context compaction" in n for n in report.notes)


@pytest.mark.parametrize(
    ("mutate", "line", "field"),
    [
        (lambda r: r.update(newly_append_tokens=r["newly_append_tokens"] + 1), 2, "newly_append_tokens"),
        (lambda r: r.update(prefix_tokens=10**9), 2, "prefix_tokens"),
        (lambda r: r.update(output_tokens=-4), 2, "output_tokens"),
        (lambda r: r.update(round_index=0), 2, "round_index"),
        (lambda r: r.pop("input_tokens_total"), 2, "input_tokens_total"),
        (lambda r: r["tools"][0].update(result_at="yesterday"), 2, "tools.0.result_at"),
        (lambda r: r.update(session_id=None), 2, "session_id"),
    ],
)
def test_bad_rows_are_named(tmp_path: Path, mutate: Any, line: int, field: str) -> None:
    rows = _session_rows("s", 3, random.Random(1))
    mutate(rows[1])
    with pytest.raises(TrajectoryError) as info:
        import_tracelab(_write(tmp_path / "bad.jsonl", rows), tmp_path / "o")
    err = info.value
    assert (err.path, err.line, err.field) == (str(tmp_path / "bad.jsonl"), line, field)


def test_malformed_and_empty_files(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_bytes(orjson.dumps(_session_rows("s", 1, random.Random(1))[0]) + b"\n{oops\n")
    with pytest.raises(TrajectoryError) as info:
        import_tracelab(p, tmp_path / "o1")
    assert info.value.line == 2 and "malformed JSON" in info.value.reason
    (tmp_path / "e.jsonl").write_bytes(b"\n")
    with pytest.raises(TrajectoryError, match="no rounds"):
        import_tracelab(tmp_path / "e.jsonl", tmp_path / "o2")


def test_gap_in_round_indices_is_reported(tmp_path: Path) -> None:
    rows = _session_rows("s", 4, random.Random(3))
    del rows[1]
    report = import_tracelab(_write(tmp_path / "g.jsonl", rows), tmp_path / "o")
    (traj,) = load_set(tmp_path / "o")
    assert len(traj.turns) == 3 and any("missing round" in n for n in report.notes)


def _big_file(path: Path, rows: int, sessions: int) -> Path:
    """`rows` rounds of `sessions` interleaved sessions, written without holding them in memory."""
    per = rows // sessions
    ctx = [3000] * sessions
    with path.open("wb") as fh:
        for k in range(per):
            for s in range(sessions):
                prefix = ctx[s] if k else 0
                ctx[s] += 150 + (k * 37 + s * 11) % 200
                row = {
                    "session_id": f"sess-{s}", "round_index": k, "input_tokens_total": ctx[s],
                    "prefix_tokens": prefix, "newly_append_tokens": ctx[s] - prefix, "output_tokens": 50,
                    "timing_events": [{"event_type": "tool_result", "timestamp": _iso(k * 5.0)}],
                    "tools": [], "first_input_event_type": "tool_result",
                }
                ctx[s] += 50
                fh.write(orjson.dumps(row) + b"\n")
    return path


def _import_peak(tmp_path: Path, rows: int) -> tuple[int, int]:
    src = _big_file(tmp_path / f"big{rows}.jsonl", rows, sessions=200)
    tracemalloc.start()
    try:
        report = import_tracelab(src, tmp_path / f"out{rows}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.turns == rows
    return peak, src.stat().st_size


@pytest.mark.slow
def test_streaming_memory_is_bounded_200k_rows(tmp_path: Path) -> None:
    peak_small, _ = _import_peak(tmp_path, 20_000)
    peak_big, size_big = _import_peak(tmp_path, 200_000)
    # ten times the rows (~60 MB of JSONL, 200 interleaved sessions): no more memory than the small file
    assert peak_big < peak_small * 1.25 + 256 * 1024, (peak_small, peak_big)
    assert peak_big < size_big / 20


def test_streaming_memory_does_not_grow_with_rows(tmp_path: Path) -> None:
    peak_small, _ = _import_peak(tmp_path, 2_000)
    peak_big, size_big = _import_peak(tmp_path, 12_000)
    assert peak_big < peak_small * 1.25 + 256 * 1024, (peak_small, peak_big)
    assert peak_big < size_big / 2


def test_session_ids_that_map_to_one_file_name_get_two_files(tmp_path: Path) -> None:
    rows = [_row(sid, 0, total=1000, prefix=0, out=5, start=0) for sid in ("a:b", "a_b")]
    report = import_tracelab(_write(tmp_path / "n.jsonl", rows), tmp_path / "o")
    assert report.trajectories == 2
    assert sorted(t.id for t in load_set(tmp_path / "o")) == ["a:b", "a_b"]
