"""`agentperf-tui runs ...` against a real store file."""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from store_factories import make_level, make_result, make_sample, make_summary, new_run

from agentperf_tui.cli import runs as runs_cli
from agentperf_tui.core.store import RunStore, list_runs
from agentperf_tui.core.tiers import SloTier

TIER = SloTier(100.0, 5.0, family="deepseek-v4")

CHILD = Path(__file__).with_name("crash_writer.py")


def cli(*argv: str | Path) -> int:
    parser = argparse.ArgumentParser(prog="agentperf-tui")
    runs_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args([str(a) for a in argv])
    return int(args.func(args))


@pytest.fixture
def filled(store: RunStore) -> tuple[str, str]:
    a = new_run(store, started_wall=1_790_000_000.0, config={"gpu_count": 8, "seed": 1})
    level_a = make_level(8)
    store.put_level(a, level_a)
    store.add_requests(a, [make_result(i, ok=i != 1) for i in range(6)], level=0)
    store.add_telemetry(a, [make_sample(1.0)], source="nvml")
    store.finish_run(a, status="finished", summary=make_summary([level_a], n_star=8, tier=TIER, gpu_count=8))
    b = new_run(store, started_wall=1_790_000_100.0, config={"gpu_count": 8, "seed": 2}, simulated=False)
    level_b = make_level(16, mean_power_w=6000.0)
    store.put_level(b, level_b)
    store.finish_run(b, status="finished", summary=make_summary([level_b], n_star=16, tier=TIER, gpu_count=8))
    store.flush()
    return a, b


def test_list_show_and_json(db: Path, filled: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = filled
    assert cli("runs", "list", "--store", db) == 0
    out = capsys.readouterr().out
    assert out.index(b) < out.index(a)  # newest first
    assert "N*=8 @ deepseek-v4/100-5" in out and "N*=16" in out and "(SIMULATED)" in out
    assert "2 run(s)" in out

    assert cli("runs", "list", "--json", "--store", db) == 0
    listed = orjson.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [b, a] and listed[1]["result_n"] == 8

    assert cli("runs", "show", a[:13], "--store", db) == 0
    out = capsys.readouterr().out
    assert f"run         {a}" in out and "SIMULATED" in out
    assert "6 (5 ok, 1 failed)" in out and "HTTP 503: overloaded" in out
    assert "120.5 [110, 130]" in out and "2.25 [2, 2.5]" in out  # level with its bounds
    assert "1 agents/GPU (8 GPUs)" in out and "2000 agents/MW" in out
    assert "telemetry   1 samples, GPUs 0 (nvml)" in out


def test_export_json_and_csv(db: Path, filled: tuple[str, str], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    a, _ = filled
    target = tmp_path / "out.json"
    assert cli("runs", "export", a, "--format", "json", "-o", target, "--store", db) == 0
    assert capsys.readouterr().out.strip() == str(target)
    assert len(orjson.loads(target.read_bytes())["requests"]) == 6

    out_dir = tmp_path / "csv"
    assert cli("runs", "export", "latest", "--format", "csv", "-o", out_dir, "--store", db) == 0
    printed = capsys.readouterr().out.split()
    assert str(out_dir / "requests.csv") in printed and str(out_dir / "levels.csv") in printed
    with (out_dir / "levels.csv").open() as f:
        assert [row["n"] for row in csv.DictReader(f)] == ["16"]


def test_annotate_then_list(db: Path, filled: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    a, _ = filled
    assert cli("runs", "annotate", a, "power", "capped", "at", "600 W", "--store", db) == 0
    assert f"annotated {a}: power capped at 600 W" in capsys.readouterr().out
    info = next(r for r in list_runs(db) if r.id == a)
    assert (info.annotations, info.first_annotation) == (1, "power capped at 600 W")
    assert cli("runs", "annotate", a, "  ", "--store", db) == 2
    assert "needs some text" in capsys.readouterr().err


def test_compare_table(db: Path, filled: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = filled
    assert cli("runs", "compare", a, b, "--store", db) == 0
    lines = capsys.readouterr().out.splitlines()
    n_star = next(line for line in lines if line.startswith("N*"))
    assert n_star.split() == ["N*", "8", "16", "+8", "B"]
    assert any(line.split()[:3] == ["config.seed", "1", "2"] for line in lines)
    assert any(line.startswith("simulated") and line.split()[1:3] == ["yes", "no"] for line in lines)


def test_errors_are_clear(db: Path, filled: tuple[str, str], tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert cli("runs", "show", "20000101", "--store", db) == 1
    err = capsys.readouterr().err
    assert "no run '20000101'" in err and "agentperf-tui runs list" in err and str(db) in err

    a, b = filled
    common = next(i for i in range(len(a)) if a[i] != b[i])
    assert cli("runs", "compare", a[:common], b, "--store", db) == 1
    assert "ambiguous" in capsys.readouterr().err

    junk = tmp_path / "junk.sqlite3"
    junk.write_text("not sqlite " * 200)
    assert cli("runs", "list", "--store", junk) == 1
    assert "not a readable SQLite run store" in capsys.readouterr().err

    assert cli("runs", "list", "--store", tmp_path / "none.sqlite3") == 0
    assert "no runs in" in capsys.readouterr().out


def test_list_marks_a_killed_run_incomplete(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proc = subprocess.run(
        [sys.executable, str(CHILD), str(db), "0.5"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -9
    assert cli("runs", "list", "--store", db) == 0
    assert "incomplete (no finish record)" in capsys.readouterr().out
    assert cli("runs", "show", "latest", "--store", db) == 0
    assert "status      incomplete (no finish record)" in capsys.readouterr().out
