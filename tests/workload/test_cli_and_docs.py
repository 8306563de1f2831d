"""`agentperf-tui trajectories ...` end to end, and the examples in docs/trajectory-format.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentperf_tui.cli import main
from agentperf_tui.core.workload.text_replay import build_text_turn_messages
from agentperf_tui.core.workload.trajectory import TextTurn, load_set, load_trajectory
from agentperf_tui.core.workload.tree import tree_of

ROOT = Path(__file__).resolve().parents[2]


def test_synth_then_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "q"
    synth = ["trajectories", "synth", "--count", "3", "--preset", "quick", "-o", str(out)]
    assert main([*synth, "--seed", "5"]) == 0
    assert "generated 3 trajectories" in capsys.readouterr().out
    assert len(load_set(out)) == 3
    assert main(["trajectories", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "3 trajectories (3 tokens)" in shown and "prompt tokens per request" in shown
    # a second run into the same folder is refused unless --force
    assert main(synth) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*synth, "--force"]) == 0


def test_import_both_sources(
    aa_mini_manifest: Path, tracelab_rounds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trajectories", "import", "--from", "aa-agentperf-local", str(aa_mini_manifest.parent),
                 "-o", str(tmp_path / "aa")]) == 0
    assert "imported 1 trajectories (6 turns)" in capsys.readouterr().out
    assert main(["trajectories", "import", "--from", "tracelab", str(tracelab_rounds),
                 "-o", str(tmp_path / "tl")]) == 0
    assert "imported 2 trajectories (19 turns)" in capsys.readouterr().out


def test_bad_input_gives_a_clear_error_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format":"agentperf-traj/1","id":"x","kind":"tokens"}\n{"i":0,"new_input_tokens":-1,'
                   '"output_tokens":5}\n')
    assert main(["trajectories", "show", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2 (field 'new_input_tokens')" in err
    assert main(["trajectories", "import", "--from", "tracelab", str(tmp_path / "missing.jsonl"),
                 "-o", str(tmp_path / "o")]) == 2
    assert "cannot open" in capsys.readouterr().err


def test_format_doc_examples_load(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "trajectory-format.md").read_text()
    examples = text.split("## Examples", 1)[1].split("## Errors", 1)[0]
    blocks = re.findall(r"```json\n(.*?)```", examples, flags=re.S)
    assert len(blocks) == 2
    for k, block in enumerate(blocks):
        path = tmp_path / f"example{k}.jsonl"
        path.write_text(block)
        traj = load_trajectory(path)
        assert traj.header.turns == len(traj.turns)
    text_traj = load_trajectory(tmp_path / "example0.jsonl")
    turns = [t for t in text_traj.turns if isinstance(t, TextTurn)]
    second = list(build_text_turn_messages(turns, prefix="P"))[1]
    # the reminder of turn 0 was dropped, the recorded reply and tool result appended
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool", "user"]
    assert second[-1]["content"] == "Tool-call turn 2 of 100."


def test_format_doc_tree_example_loads(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "trajectory-format.md").read_text()
    section = text.split("## Version 2: agent trees", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```json\n(.*?)```", section, flags=re.S)
    path = tmp_path / "tree.jsonl"
    path.write_text(block)
    traj = load_trajectory(path)
    assert traj.header.format == "agentperf-traj/2"
    assert [s.id for s in traj.subagents] == ["explore", "tests", "lint"]
    root = tree_of(traj)
    (fork,) = root.forks_after(0)
    assert [c.id for c in fork.children] == ["explore", "tests"] and fork.joins_before == 1
    assert root.forks_after(1)[0].detached
    # what the joined sub-agents returned is part of turn 1's new input, as the text says
    assert sum(c.spec.result_tokens or 0 for c in fork.children if c.spec) == 200
