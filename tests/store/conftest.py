"""Fixtures for the run store tests: real SQLite files under tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentperf_tui.core.store import RunStore


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / "runs.sqlite3"


@pytest.fixture
def store(db: Path) -> Iterator[RunStore]:
    s = RunStore(db)
    try:
        yield s
    finally:
        s.close()
