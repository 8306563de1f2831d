"""The tool against a server that passes the exact-length probe honestly, then cuts every reply of
the run to half its length: the run is marked not comparable while it runs, with a count and a
reason, and exits as not trustworthy."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import StartFaultServer
from .fault_modes import Fault
from .tool_runs import audit, quick_run, run_tool

pytestmark = pytest.mark.slow


def test_short_replies_after_an_honest_probe_mark_the_run_not_comparable(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    server = start_fault_server(Fault(mode="short", short_share=0.5, spare_preflight=True), tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    run = run_tool("search", "--headless", "--sweep", "4", *quick_run(server.url, store, trajectory_set),
                   timeout=60)
    assert run.code == 3, run.explain()
    err = run.stderr
    # the probe was answered honestly...
    assert "exactly 64 tokens; lengths are comparable" in err
    # ...and the replies of the run gave it away while it ran, before its end
    marked = next(i for i, line in enumerate(err.splitlines()) if "run marked NOT COMPARABLE" in line)
    assert marked < next(i for i, line in enumerate(err.splitlines()) if "search finished" in line)
    line = err.splitlines()[marked]
    assert "replies came back with another length than asked" in line
    summary = run.summary
    assert summary["comparable"] is False and summary["length_mismatches"] == summary["requests"]["ok"]
    [reason] = summary["comparability"]
    assert reason.split(" of ")[0].isdigit() and "exact output lengths" in reason
    assert "not trustworthy as it is: not comparable" in err
    stats = server.wait_settled()
    stored, shown = audit(run, stats, store)
    own = stats.excluding_preflight()
    assert own.completed == stored.ok > 0 and stored.failed == 0
    assert all(r.tokens_sent < (r.max_tokens or 0) for r in own.requests if r.outcome == "completed")
    assert f"! not comparable: {reason}" in shown
