"""The setup screen's endpoint check against real loopback servers."""

from __future__ import annotations

import socket

import pytest

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.preflight import check_config as check_endpoint_report


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_endpoint_is_a_failed_row_not_an_exception() -> None:
    report = check_endpoint_report(RunConfig(endpoint=f"http://127.0.0.1:{closed_port()}", model="m"))
    assert not report.ok
    assert report.rows[-1].status == "fail"
    assert "127.0.0.1" in report.rows[-1].found


def test_missing_api_key_variable_is_named() -> None:
    cfg = RunConfig(endpoint="http://127.0.0.1:1", model="m", api_key_env="AGENTPERF_TEST_UNSET_KEY")
    report = check_endpoint_report(cfg)
    assert not report.ok and "AGENTPERF_TEST_UNSET_KEY" in report.rows[-1].found


@pytest.mark.slow
def test_embedded_simulator_is_checked_and_labelled() -> None:
    report = check_endpoint_report(RunConfig())
    what = {r.what: r for r in report.rows}
    assert what["server"].status == "warn" and "SIMULATED" in what["server"].found
    assert what["model"].found.startswith("sim-")
    assert "tokens" in what["context"].found
    assert what["exact length"].status == "ok" and "honoured" in what["exact length"].found
    assert report.ok
