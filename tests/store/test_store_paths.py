"""Where the store lives by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentperf_tui.core.store import STORE_ENV, default_store_path
from agentperf_tui.core.store.run_ids import RUN_ID_PATTERN, new_run_id


def test_default_path_honours_env_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(STORE_ENV, raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_store_path() == tmp_path / "home/.local/share/agentperf-tui/runs.sqlite3"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_path() == tmp_path / "xdg/agentperf-tui/runs.sqlite3"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG spec says: ignore
    assert default_store_path() == tmp_path / "home/.local/share/agentperf-tui/runs.sqlite3"
    monkeypatch.setenv(STORE_ENV, "~/elsewhere/r.sqlite3")
    assert default_store_path() == tmp_path / "home/elsewhere/r.sqlite3"


def test_run_ids_sort_by_start_time() -> None:
    ids = [new_run_id(w) for w in (1_700_000_000.0, 1_700_000_001.0, 1_800_000_000.0)]
    assert all(RUN_ID_PATTERN.match(i) for i in ids)
    assert ids == sorted(ids) and ids[0].startswith("20231114-221320-")
