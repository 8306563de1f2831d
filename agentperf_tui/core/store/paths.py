"""Where the run store lives by default."""

from __future__ import annotations

import os
from pathlib import Path

STORE_ENV = "AGENTPERF_TUI_STORE"
"""Environment variable naming the store file; overrides the XDG location."""

STORE_FILENAME = "runs.sqlite3"


def default_store_path() -> Path:
    """$AGENTPERF_TUI_STORE, else $XDG_DATA_HOME/agentperf-tui/runs.sqlite3, else ~/.local/share/..."""
    explicit = os.environ.get(STORE_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME", "").strip()
    # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    base = Path(data_home) if data_home and Path(data_home).is_absolute() else Path.home() / ".local/share"
    return base / "agentperf-tui" / STORE_FILENAME
