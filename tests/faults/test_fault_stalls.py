"""The tool against a server that goes quiet: before the first token, after it, and for some of the
requests only, where the requests still open must weigh in the verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import StartFaultServer
from .fault_modes import Fault
from .tool_runs import audit, passed_levels, quick_run, run_tool

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("mode", "where"),
    [("stall_before_first", "before the first output"), ("stall_after_first", "mid-stream")],
)
def test_a_silent_server_ends_each_request_as_stalled(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path, mode: str, where: str
) -> None:
    server = start_fault_server(Fault(mode=mode, at_token=2, spare_preflight=True), tokens_per_s=1000)  # type: ignore[arg-type]
    store = tmp_path / "runs.sqlite3"
    run = run_tool("search", "--headless", "--sweep", "8",
                   *quick_run(server.url, store, trajectory_set, stall_s=0.5), timeout=60)
    assert run.code == 3, run.explain()
    assert run.seconds < 30
    summary = run.summary
    assert passed_levels(summary) == [] and summary["results"][0]["n_star"] == 0
    stats = server.wait_settled()
    stored, shown = audit(run, stats, store)
    own = stats.excluding_preflight()
    # the server gave up on none of them: the client hung up on each
    assert own.client_closed == own.seen and own.completed == 0
    assert stored.failures["stalled"] == stored.failed > 0
    assert f"stalled: no data for 0.5 s {where}" in run.stderr
    assert "stalled" in shown


def test_requests_stalled_mid_level_keep_it_from_passing_while_still_open(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    """One request in four stalls for 2.5 s before its first token, the rest are fast. Counting only
    the requests that have finished, the level would pass within its first two seconds (a hundred
    fast replies, not one miss: the slow ones are all still open). Counted as open, each stalled
    request holds the window back while it may still meet the 2 s TTFT limit, and is a known miss
    once it has waited longer: the level fails, on TTFT, and no request failed."""
    fault = Fault(mode="stall_before_first", fraction=0.25, stall_s=2.5, spare_preflight=True)
    server = start_fault_server(fault, tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    run = run_tool("search", "--headless", "--sweep", "12",
                   *quick_run(server.url, store, trajectory_set, stall_s=8), timeout=60)
    summary = run.summary
    [level] = summary["levels"]
    assert run.code == 0, run.explain()  # a slow server is a result: nothing failed
    assert not level["passed"] and level["verdict"] == "fail" and level["failing_criterion"] == "ttft"
    assert level["failed"] == 0 and level["ttft_p95"] > 2
    assert level["open_counted"] > 0, "the verdict was taken with the stalled requests still open"
    stats = server.wait_settled()
    stored, _ = audit(run, stats, store)
    assert stored.failed == 0 and stored.ok == stats.excluding_preflight().completed
