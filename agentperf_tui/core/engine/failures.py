"""Failed requests, told to the operator once per kind, with a hint where the cause is known.

Every failure counts against the SLO and is stored; this only keeps the event log readable: the
first failure of each kind is reported with its message, later ones of the same kind are counted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from agentperf_tui.core.records import RequestResult

MAX_KINDS = 20

_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"tool.?choice|tool.?call.?parser|enable-auto-tool-choice", re.I),
        "the server rejects requests that carry tools: start vLLM with --enable-auto-tool-choice "
        "--tool-call-parser NAME, or replay token-only trajectories",
    ),
    (
        re.compile(r"maximum context length|context length|too long|exceeds.*context", re.I),
        "prompts exceed the served context: serve a longer max-model-len or use shorter trajectories",
    ),
    (
        re.compile(r"\b401\b|\b403\b|unauthori[sz]ed|invalid api key", re.I),
        "authentication failed: check the variable named by --api-key-env",
    ),
)


def kind_of(error: str) -> str:
    """Failures that differ only in numbers (ids, lengths, ports) are one kind."""
    return re.sub(r"\d+", "#", error)[:100]


def hint_for(error: str) -> str | None:
    for pattern, hint in _HINTS:
        if pattern.search(error):
            return hint
    return None


class FailureLog:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def new_kinds(self, results: Iterable[RequestResult]) -> list[str]:
        """Event messages for failures of a kind not seen before in this run (a request cut off
        by the end of the run is not a failure)."""
        out: list[str] = []
        for r in results:
            if r.ok or r.failure == "open_at_end":
                continue
            err = r.error or "failed without a message"
            k = kind_of(err)
            first = k not in self.counts
            self.counts[k] += 1
            if first and len(self.counts) <= MAX_KINDS:
                hint = hint_for(err)
                out.append(
                    f"request failed (counted against the SLO): {err}" + (f" -- {hint}" if hint else "")
                )
        return out
