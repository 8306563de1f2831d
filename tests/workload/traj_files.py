"""Writing trajectory files line by line, and reading the error a bad one raises."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from agentperf_tui.core.workload.trajectory import TrajectoryError, load_trajectory


def write_lines(path: Path, *objs: object) -> Path:
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in objs))
    return path


def turn(i: int, **kw: object) -> dict[str, object]:
    return {"i": i, "new_input_tokens": 100, "output_tokens": 10} | kw


def load_error(path: Path) -> TrajectoryError:
    with pytest.raises(TrajectoryError) as info:
        load_trajectory(path)
    return info.value
