"""Whether a run can be compared with others: exact output lengths, checked before the run by the
probe and during it on every reply."""

from __future__ import annotations

from agentperf_tui.core.metrics.columns import RequestColumns
from agentperf_tui.core.preflight import Preflight

LENGTH_TOLERANCE = 0.02
"""Share of replies whose length may differ from what was asked before the run is marked."""
MIN_LENGTH_MISMATCHES = 5


class Comparability:
    def __init__(self, pf: Preflight) -> None:
        self.reasons: list[str] = []
        if not pf.comparable:
            lines = pf.comparability.strip().splitlines()
            self.reasons.append(lines[-1] if lines else "exact output lengths not achieved")
        self._lengths_flagged = False

    @property
    def comparable(self) -> bool:
        return not self.reasons

    def check(self, cols: RequestColumns) -> str | None:
        """A new reason the run is not comparable, the first time the replies give one."""
        bad, ok = cols.length_mismatches, cols.ok
        if self._lengths_flagged or bad < MIN_LENGTH_MISMATCHES or bad <= LENGTH_TOLERANCE * ok:
            return None
        self._lengths_flagged = True
        reason = (
            f"{bad} of {ok} replies came back with another length than asked (more than "
            f"{LENGTH_TOLERANCE:.0%}): the server does not keep to exact output lengths during the run"
        )
        self.reasons.append(reason)
        return reason
