"""Reading JSONL line by line with a bound on line length, so one giant line is refused, not loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from agentperf_tui.core.workload.errors import TrajectoryError


class _Readable(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


MAX_LINE_BYTES = 32 * 1024 * 1024
"""Longest line accepted. A turn line holds only what its turn appended; a line past this is a
whole conversation (or a whole file) on one line, which the formats never need."""


def bounded_lines(
    fh: _Readable, path: Path | str, limit: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, raw line) from a binary file; raise TrajectoryError on a line over
    `limit` bytes after reading at most `limit` + 1 bytes of it."""
    lineno = 0
    while True:
        raw = fh.readline(limit + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            raise TrajectoryError(
                path, lineno, None,
                f"line longer than {limit // (1024 * 1024)} MiB; each line holds one header, node or "
                "turn (a turn only what it appended); split the file into one line per turn, or "
                "convert it with `agentperf-tui trajectories import`",
            )
        yield lineno, raw
