"""Real inference servers (vLLM CPU, llama.cpp) as session fixtures for `tests/realservers`.

These tests start real servers, so they run only when asked for: `pytest tests/realservers`,
`pytest -m realserver`, or AGENTPERF_REALSERVERS=1. A plain `pytest` skips them and says how to
run them.

When a server cannot be installed or started, its tests fail with the reason under CI
(CI=true), and are skipped with the reason elsewhere. AGENTPERF_VLLM_URL / AGENTPERF_LLAMACPP_URL
point the tests at a server that is already running (serving model `tiny`) instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realservers_launch import MODEL_NAME, ServerUnavailable, start
from realservers_targets import EXPECT, Target, in_ci

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parents[1].parent / "shared" / "datasets"


def _asked_for(config: pytest.Config) -> bool:
    if os.environ.get("AGENTPERF_REALSERVERS", "").strip() in ("1", "true", "yes"):
        return True
    markexpr = str(config.getoption("markexpr", "") or "")
    if "realserver" in markexpr and "not realserver" not in markexpr:
        return True
    for arg in config.args:
        path = Path(arg.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _asked_for(config):
        return
    skip = pytest.mark.skip(
        reason="starts real vLLM / llama.cpp servers: run `pytest tests/realservers` "
        "(or -m realserver, or AGENTPERF_REALSERVERS=1)"
    )
    for item in items:
        if item.get_closest_marker("realserver") is not None:
            item.add_marker(skip)


_failures: dict[str, str] = {}


def _unavailable(kind: str, reason: str) -> NoReturn:
    message = f"real {kind} server unavailable: {reason}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session", params=["vllm", "llamacpp"])
def real_server(request: pytest.FixtureRequest) -> Iterator[Target]:
    """Each real server in turn (one at a time: the first is stopped before the second starts)."""
    kind: str = request.param
    given = os.environ.get(f"AGENTPERF_{kind.upper()}_URL")
    if given:
        yield Target(kind, given.rstrip("/").removesuffix("/v1"), MODEL_NAME, EXPECT[kind], None)
        return
    server = None
    if kind not in _failures:
        try:
            server = start(kind)
        except ServerUnavailable as e:
            _failures[kind] = str(e)
    if server is None:
        _unavailable(kind, _failures[kind])
    report = request.config.stash.setdefault(_TIMINGS, [])
    report.append(
        f"{kind}: install {server.install_s:.1f} s, start {server.start_s:.1f} s, "
        f"pid {server.pid}, {server.base_url}, log {server.log_path}"
    )
    try:
        yield Target(kind, server.base_url, server.model, EXPECT[kind], server)
    finally:
        server.stop()


_TIMINGS = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(_TIMINGS, [])
    if lines:
        terminalreporter.section("real servers")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def aa_mini_dir() -> Path:
    """The one-task agentperf-local replay shipped in ../shared/datasets (6 turns)."""
    src = DATASETS / "aa-agentperf-local" / "aa-mini-v1"
    if not (src / "manifest.json").is_file():
        reason = f"dataset {src} missing (../shared/datasets beside the project root)"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return src
