"""Where the run store lives by default, and where exports of its runs go."""

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


EXPORTS_DIRNAME = "exports"


def export_dir(store: str | Path, run_id: str) -> Path:
    """Where a run's exports go unless told otherwise: exports/<run id>/ next to the store file
    (never the folder the command happens to run in)."""
    return Path(store).expanduser().resolve().parent / EXPORTS_DIRNAME / run_id
