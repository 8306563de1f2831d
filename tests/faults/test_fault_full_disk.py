"""A run whose store fills its disk: a tmpfs of 2 MiB, mounted in a mount namespace of its own
(`unshare -rm`, no privileges needed where user namespaces are allowed), filled up once the run has
stored some requests. The run must end by itself, say that the disk is full, and leave what it had
stored readable."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import StartFaultServer
from .tool_runs import REPO_ROOT, ToolRun, integrity, quick_run, runs_show, stored_run

pytestmark = pytest.mark.slow

SCRIPT = r"""
set -u
mount -t tmpfs -o size=2m tmpfs "$DISK" || exit 97
[ "${PROBE:-}" = 1 ] && exit 0
(
  # once the run has written requests, fill what is left of the disk
  while [ ! -s "$DISK/runs.sqlite3-wal" ]; do sleep 0.05; done
  sleep 2.5
  dd if=/dev/zero of="$DISK/filler" bs=4096 2>/dev/null
  echo "test: disk filled at $(date +%s.%N)" >&2
) &
"$@"
code=$?
cp "$DISK"/runs.sqlite3* "$OUT"/
exit $code
"""


def _in_namespace(disk: Path, out: Path, *command: str, probe: bool = False,
                  timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {"DISK": str(disk), "OUT": str(out), "PROBE": "1" if probe else "0", "PATH": "/usr/bin:/bin"}
    return subprocess.run(["unshare", "-rm", "sh", "-c", SCRIPT, "sh", *command], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=REPO_ROOT)


def test_a_full_disk_ends_the_run_cleanly_and_keeps_what_was_stored(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    if shutil.which("unshare") is None:
        pytest.skip("no `unshare` here: cannot mount a small tmpfs without privileges")
    probe = _in_namespace(disk, out, probe=True, timeout=10)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user and mount namespace here (unshare -rm: "
                    f"{probe.stderr.strip() or probe.returncode}); the full-disk test needs one")
    server = start_fault_server(tokens_per_s=1000)
    command = [sys.executable, "-m", "agentperf_tui", "run", "--headless", "-n", "4", "--duration", "60",
               *quick_run(server.url, disk / "runs.sqlite3", trajectory_set)]
    done = _in_namespace(disk, out, *command)
    run = ToolRun(done.returncode, done.stdout, done.stderr, 0.0)
    filled = [line for line in run.stderr.splitlines() if line.startswith("test: disk filled at ")]
    assert filled, run.explain()
    filled_wall = float(filled[0].rsplit(" ", 1)[1])
    # the run stops by itself (the store retries a full disk for ~10 s first), exit 1: not to its end
    assert run.code == 1, run.explain()
    assert "database or disk is full" in run.stderr
    assert "stopping the run; the summary is still printed" in run.stderr
    summary = run.summary
    assert summary["status"] == "failed" and "database or disk is full" in summary["status_reason"]
    [lost] = [i for i in summary["incidents"] if "writes lost" in i]
    assert "missing from the store" in lost and int(re.findall(r": (\d+) writes lost", lost)[0]) > 0
    # the summary counts every write lost before it; only its own finish record is lost after it
    assert re.search(r"\b1 write\(s\) failed; last error: finish: ", run.stderr), run.stderr[-1500:]
    store = out / "runs.sqlite3"
    assert integrity(store) == "ok"
    stored = stored_run(store)
    assert stored.status == "running"  # its finish record could not be written: shown incomplete
    own = server.wait_settled().excluding_preflight()
    # every reply finished well before the disk filled is on disk; what came later may be lost,
    # and the summary, which has it all, says so
    before = sum(1 for r in own.requests if r.outcome == "completed" and (r.t_end or 0) < filled_wall - 1.0)
    assert 0 < before <= stored.ok <= own.completed and stored.rows <= own.seen
    # the summary has every finished reply; one the server finished in the last instant before the
    # run cut it off is counted open at the end, never lost (tests/faults/README.md, "the books")
    ok, open_at_end = summary["requests"]["ok"], summary["requests"]["open_at_end"]
    assert stored.ok < ok <= own.completed <= ok + open_at_end
    shown = runs_show(store, stored.run_id)
    assert shown.code == 0, shown.explain()
    assert "incomplete" in shown.stdout
