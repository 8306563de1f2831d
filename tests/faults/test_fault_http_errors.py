"""The tool against a server that answers with HTTP errors: 500s and 429s with Retry-After."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import StartFaultServer
from .fault_modes import Fault
from .tool_runs import assert_struck, audit, passed_levels, quick_run, run_tool

pytestmark = pytest.mark.slow


def test_http_500s_fail_every_level_they_touch_and_are_each_stored(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    """A quarter of the run's requests get HTTP 500: far above the 5% a P95 tolerates, so no level of
    the search may pass, and each 500 is one stored failure of kind "http"."""
    fault = Fault(mode="http_500", fraction=0.25, spare_preflight=True)
    server = start_fault_server(fault, tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    run = run_tool("search", "--headless", "-n", "2", "--max", "8",
                   *quick_run(server.url, store, trajectory_set), timeout=60)
    assert run.code == 3, run.explain()
    assert run.seconds < 30
    summary = run.summary
    assert summary["status"] == "finished"
    assert passed_levels(summary) == [] and summary["results"][0]["n_star"] == 0
    assert [lv["n"] for lv in summary["levels"]] == [2, 1]
    stats = server.wait_settled()
    stored, shown = audit(run, stats, store)
    own = stats.excluding_preflight()
    assert_struck(stored, "http", own.failed["http_500"])
    assert stored.failed == stored.failures["http"]
    assert "HTTP 500: injected fault: the engine failed" in run.stderr
    assert "% of the requests failed (more than 5%)" in run.stderr
    assert f"{stored.failed} http" in shown and "× HTTP 500" in shown


def test_http_429_is_a_rate_limited_failure_that_says_its_retry_after(
    start_fault_server: StartFaultServer, trajectory_set: Path, tmp_path: Path
) -> None:
    fault = Fault(mode="http_429", retry_after_s=7, spare_preflight=True)
    server = start_fault_server(fault, tokens_per_s=1000)
    store = tmp_path / "runs.sqlite3"
    run = run_tool("search", "--headless", "--sweep", "4", *quick_run(server.url, store, trajectory_set),
                   timeout=60)
    assert run.code == 3, run.explain()
    assert run.seconds < 30
    summary = run.summary
    assert passed_levels(summary) == [] and summary["results"][0]["n_star"] == 0
    failed_by_kind = {k: v for k, v in summary["requests"]["by_kind"].items() if k != "open_at_end"}
    assert failed_by_kind == {"rate_limited": summary["requests"]["failed"]}
    # the event log says it once, with the server's Retry-After
    told = [line for line in run.stderr.splitlines() if "HTTP 429" in line]
    assert len(told) == 1 and "(Retry-After: 7)" in told[0] and "warn: request failed" in told[0]
    stats = server.wait_settled()
    stored, shown = audit(run, stats, store)
    assert stored.ok == 0
    assert_struck(stored, "rate_limited", stats.excluding_preflight().failed["http_429"])
    assert "rate_limited" in shown and "(Retry-After: 7)" in shown
