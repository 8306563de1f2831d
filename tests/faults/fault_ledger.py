"""The fault server's accounting: one record per completion request, counted for conservation checks.

Every request that reaches a completion endpoint gets a `RequestRecord` at once (`seen`), and ends
exactly once with an `Outcome`; until then it is open. The counters in `FaultStats` are computed
from the records, so that seen == completed + sum(failed) + client_closed + server_stopped + open
holds by construction. Records change on the server's event loop and are read from any thread under
one lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

Outcome = Literal[
    "completed",
    "http_500",
    "http_429",
    "reset",
    "malformed",
    "truncated",
    "refuse",
    "bad_request",
    "client_closed",
    "server_stopped",
]
SERVER_FAILURES: tuple[str, ...] = (
    "http_500",
    "http_429",
    "reset",
    "malformed",
    "truncated",
    "refuse",
    "bad_request",
)
"""Outcomes where the server itself failed the request (`FaultStats.failed`)."""


@dataclass(slots=True)
class RequestRecord:
    index: int
    """Order of arrival, from 0."""
    path: str
    t_received: float
    """Wall-clock time (time.time()) the request body was read."""
    max_tokens: int | None
    """max_tokens (or max_completion_tokens) asked for; None when absent or unreadable."""
    min_tokens: int | None
    ignore_eos: bool
    probe: bool
    """The request is the exact-length probe's (its fixed question, see client/probe.py)."""
    calibration: bool
    """The request looks like one of the filler calibration's (workload/calibrate.py, sent before a
    run with token-only trajectories): max_tokens 1 and neither ignore_eos nor min_tokens."""
    fault: str
    """The mode the server applied to this request; "ok" when served honestly."""
    prompt_tokens: int = 0
    """The server's estimate (characters / 4), reported as usage.prompt_tokens."""
    tokens_planned: int = 0
    """Output tokens the reply holds if it runs to its end."""
    tokens_sent: int = 0
    """Output-token chunks written to the connection."""
    completion_tokens: int | None = None
    """usage.completion_tokens as sent; None when no usage chunk was sent."""
    status: int | None = None
    """HTTP status sent; None before the headers went out."""
    outcome: Outcome | None = None
    """completed: the whole well-formed reply, [DONE] included, was written (short and slow_drip
    replies and stalls with a finite stall_s end so). A server failure kind (SERVER_FAILURES),
    client_closed (the client hung up first), server_stopped (the server was stopped while the
    request was open). None while open."""
    t_end: float | None = None

    @property
    def open(self) -> bool:
        return self.outcome is None


@dataclass(frozen=True, slots=True)
class FaultStats:
    """A consistent snapshot of the server's accounting."""

    seen: int
    completed: int
    failed: dict[str, int]
    """Requests the server failed, by kind (only kinds that occurred)."""
    client_closed: int
    server_stopped: int
    open: int
    probes: int
    """Requests among `seen` that look like the exact-length probe's."""
    calibrations: int
    """Requests among `seen` that look like the filler calibration's."""
    requests: tuple[RequestRecord, ...]

    @classmethod
    def of(cls, records: tuple[RequestRecord, ...]) -> FaultStats:
        outcomes: Counter[str | None] = Counter(r.outcome for r in records)
        return cls(
            seen=len(records),
            completed=outcomes["completed"],
            failed={k: outcomes[k] for k in SERVER_FAILURES if outcomes[k]},
            client_closed=outcomes["client_closed"],
            server_stopped=outcomes["server_stopped"],
            open=outcomes[None],
            probes=sum(r.probe for r in records),
            calibrations=sum(r.calibration for r in records),
            requests=records,
        )

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FaultStats:
        """The snapshot `GET /_stats` returned."""
        return cls.of(tuple(RequestRecord(**r) for r in obj["requests"]))

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def excluding_probes(self) -> FaultStats:
        """The same counts over the requests that are not the exact-length probe's."""
        return FaultStats.of(tuple(r for r in self.requests if not r.probe))

    def excluding_preflight(self) -> FaultStats:
        """The same counts over the run's own requests: neither probe nor calibration."""
        return FaultStats.of(tuple(r for r in self.requests if not (r.probe or r.calibration)))

    def to_json(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "completed": self.completed,
            "failed": self.failed,
            "client_closed": self.client_closed,
            "server_stopped": self.server_stopped,
            "open": self.open,
            "probes": self.probes,
            "calibrations": self.calibrations,
            "requests": [{f.name: getattr(r, f.name) for f in fields(r)} for r in self.requests],
        }


class Ledger:
    """The records, changed on the server's loop, read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._open: set[int] = set()

    def open(self, **values: Any) -> RequestRecord:
        with self._lock:
            rec = RequestRecord(index=len(self._records), t_received=time.time(), **values)
            self._records.append(rec)
            self._open.add(rec.index)
            return rec

    def update(self, rec: RequestRecord, **values: Any) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(rec, name, value)

    def sent(self, rec: RequestRecord) -> None:
        with self._lock:
            rec.tokens_sent += 1

    def end(self, rec: RequestRecord, outcome: Outcome) -> bool:
        """End `rec` with `outcome`; False (and no change) when it had ended already."""
        with self._lock:
            if rec.outcome is not None:
                return False
            rec.outcome = outcome
            rec.t_end = time.time()
            self._open.discard(rec.index)
            return True

    def end_open(self, outcome: Outcome) -> int:
        """End every open request with `outcome`; how many there were."""
        with self._lock:
            now = time.time()
            for i in self._open:
                rec = self._records[i]
                rec.outcome = outcome
                rec.t_end = now
            n = len(self._open)
            self._open.clear()
            return n

    def open_count(self) -> int:
        with self._lock:
            return len(self._open)

    def snapshot(self) -> FaultStats:
        with self._lock:
            records = tuple(replace(r) for r in self._records)
        return FaultStats.of(records)


def wait_settled(read: Callable[[], FaultStats], timeout: float) -> FaultStats:
    """Poll `read` until no request is open; raises TimeoutError naming the open requests (a
    stalled stream stays open until its client hangs up)."""
    deadline = time.monotonic() + timeout
    while (stats := read()).open and time.monotonic() < deadline:
        time.sleep(0.01)
    if stats.open:
        still = [r.index for r in stats.requests if r.open]
        raise TimeoutError(f"{stats.open} request(s) still open after {timeout} s: {still}")
    return stats
