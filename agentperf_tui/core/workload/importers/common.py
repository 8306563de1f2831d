"""What every importer shares: the output directory, file names and the summary it returns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..trajectory import TrajectoryError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class ImportReport:
    """What an import wrote, and anything about the source a user should know."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    turns: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def trajectories(self) -> int:
        return len(self.files)


def safe_filename(name: str) -> str:
    """A file name for a trajectory id: anything but letters, digits, '.', '_' and '-' becomes '_'."""
    cleaned = _UNSAFE.sub("_", name).strip("._")
    return cleaned or "trajectory"


def prepare_out_dir(out_dir: Path | str, *, overwrite: bool) -> Path:
    """Create the output directory; refuse one that already holds trajectories unless told to replace them."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TrajectoryError(out, None, None, "output path exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    if not overwrite and any(out.glob("*.jsonl")):
        raise TrajectoryError(
            out, None, None,
            "output directory already holds *.jsonl files; choose an empty one or pass --force",
        )
    return out
