"""The setup screen's endpoint check: what the server is and whether it honours exact lengths.

Runs in a thread worker, never on the UI loop. A check never raises: every failure is a row of
the report saying what was tried and what came back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agentperf_tui.core.engine.config import RunConfig


@dataclass(frozen=True, slots=True)
class CheckRow:
    what: str
    found: str
    status: str = "ok"
    """"ok", "warn" or "fail"."""


@dataclass(frozen=True, slots=True)
class CheckReport:
    rows: list[CheckRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status != "fail" for r in self.rows)


Prober = Callable[[RunConfig], CheckReport]
