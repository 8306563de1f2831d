"""The tool against replies that are broken or slow: a line that is not JSON, a stream that ends
without its end, and tokens that drip in slowly (slow but alive: not a stall)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import StartFaultServer
from .fault_modes import Fault
from .tool_runs import assert_struck, audit, passed_levels, quick_run, run_tool, write_trajectories

pytestmark = pytest.mark.slow


def test_a_malformed_stream_is_a_failure_even_when_the_rest_of_it_looks_fine(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    """Every reply carries one data line that is not JSON after its second token, then the rest and
    [DONE]: each is a failed request (kind malformed), never an ok one."""
    server = start_fault_server(Fault(mode="malformed", at_token=2, spare_preflight=True), tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    run = run_tool("search", "--headless", "--sweep", "4", *quick_run(server.url, store, trajectory_set),
                   timeout=60)
    assert run.code == 3, run.explain()
    summary = run.summary
    assert passed_levels(summary) == [] and summary["results"][0]["n_star"] == 0
    stats = server.wait_settled()
    stored, shown = audit(run, stats, store)
    own = stats.excluding_preflight()
    # the server counts a reply malformed once the bad line is out
    assert stored.ok == 0 and stored.failed == stored.failures["malformed"]
    assert_struck(stored, "malformed", own.failed["malformed"])
    assert "malformed stream: event 4 is not JSON" in run.stderr
    assert "malformed" in shown


def test_a_stream_that_ends_without_done_is_a_truncated_failure(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    """Replies end cleanly after a third of a reply: no finish_reason, no usage, no [DONE]. Tokens
    arrived fast, yet none of them may count as a finished reply."""
    server = start_fault_server(Fault(mode="truncated", at_token=4, spare_preflight=True), tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    run = run_tool("search", "--headless", "--sweep", "4", *quick_run(server.url, store, trajectory_set),
                   timeout=60)
    assert run.code == 3, run.explain()
    summary = run.summary
    assert passed_levels(summary) == []
    assert summary["whole_run"]["output_speed_tok_s"]["p50"] == 0.0
    stats = server.wait_settled()
    stored, shown = audit(run, stats, store)
    assert stored.ok == 0 and stored.failed == stored.failures["truncated"]
    assert_struck(stored, "truncated", stats.excluding_preflight().failed["truncated"])
    assert "stream ended without data: [DONE]" in run.stderr
    assert "truncated" in shown


def test_a_slow_drip_is_slow_not_stalled_and_fails_the_level_on_speed(
    start_fault_server: StartFaultServer, tmp_path: Path
) -> None:
    """One token every 0.1 s (10 tok/s against a floor of 20): each reply takes longer than the
    stall timeout in all, but never goes quiet for that long, so it finishes ok and is slow."""
    server = start_fault_server(Fault(mode="slow_drip", drip_s=0.1, spare_preflight=True), tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    trajectories = write_trajectories(tmp_path / "trajectories", output_tokens=8)
    run = run_tool("search", "--headless", "--sweep", "8",
                   *quick_run(server.url, store, trajectories, tier="20/2", stall_s=0.5), timeout=60)
    assert run.code == 0, run.explain()  # slow is a result, not an untrustworthy run
    summary = run.summary
    [level] = summary["levels"]
    assert not level["passed"] and level["failing_criterion"] == "speed"
    assert level["speed_p25"] < 11 and level["ttft_p95"] < 2
    stats = server.wait_settled()
    stored, _ = audit(run, stats, store)
    assert stored.failed == 0 and stored.ok > 30
    assert "request failed" not in run.stderr
