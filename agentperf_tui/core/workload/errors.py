"""The one error a trajectory file or set raises: it names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path


class TrajectoryError(ValueError):
    """A trajectory file (or set) is unusable. The message names file, line and field."""

    def __init__(self, path: Path | str, line: int | None, field: str | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.reason = message
        where = self.path
        if line is not None:
            where += f":{line}"
        if field:
            where += f" (field '{field}')"
        super().__init__(f"{where}: {message}")
