"""What the fault server does to a request: the modes, their parameters, and which requests get them.

A `Fault` is set at start or switched at run time (`FaultServer.set_fault`, `POST /_fault`). From the
moment it is set, it lets `after` requests through honestly, then strikes a `fraction` of the rest,
evenly spread (fraction 0.5 strikes every second request, 0.25 every fourth), so that a test knows
exactly how many requests were struck. With `spare_preflight`, requests that look like the
exact-length probe's or the filler calibration's are served honestly and not counted.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Mode = Literal[
    "ok",
    "http_500",
    "http_429",
    "refuse",
    "reset",
    "stall_before_first",
    "stall_after_first",
    "malformed",
    "truncated",
    "short",
    "slow_drip",
]
MODES: tuple[str, ...] = get_args(Mode)

AT_TOKEN_MODES: frozenset[str] = frozenset({"reset", "stall_after_first", "malformed", "truncated"})
"""Modes that strike in the middle of a stream, after `at_token` output tokens."""


class Fault(BaseModel):
    """One fault mode and its parameters (each parameter is read only by the modes named)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    mode: Mode = "ok"
    """ok: honest replies. http_500 / http_429: an OpenAI-shaped JSON error (429 with Retry-After).
    refuse: stop listening and drop every open connection (connections are refused until another
    mode is set, or `for_s` has passed; the server listens again on the same port).
    reset: abort the TCP connection (RST) after `at_token` tokens.
    stall_before_first: send the headers, then nothing for `stall_s` (None: until someone hangs up).
    stall_after_first: `at_token` tokens, then nothing for `stall_s`.
    malformed: a data line that is not JSON after `at_token` tokens; the rest of the stream follows.
    truncated: end the stream cleanly after `at_token` tokens: no finish_reason, usage or [DONE].
    short: a well-formed reply of `short_share` of max_tokens whatever the request asked, with the
    true count in usage. slow_drip: one token every `drip_s` seconds."""
    after: int = Field(default=0, ge=0)
    """Requests served honestly, counted from when this fault was set, before it strikes."""
    fraction: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share of the requests after `after` that are struck, evenly spread."""
    spare_preflight: bool = False
    """Serve requests that look like the exact-length probe's or the filler calibration's honestly,
    and do not count them (`RequestRecord.probe`, `.calibration`)."""
    at_token: int = Field(default=3, ge=0)
    """reset, stall_after_first, malformed, truncated: output tokens sent before the fault (a reply
    shorter than that is struck after its last token, before usage and [DONE])."""
    retry_after_s: int = Field(default=1, ge=0)
    """http_429: the Retry-After header, in whole seconds."""
    stall_s: float | None = Field(default=None, gt=0)
    """stall_*: seconds of silence, after which the reply goes on; None: silent until the client
    hangs up or the server stops."""
    drip_s: float = Field(default=0.5, gt=0)
    """slow_drip: seconds between two tokens."""
    short_share: float = Field(default=0.5, gt=0.0, lt=1.0)
    """short: the reply holds max(1, floor(max_tokens * short_share)) tokens."""
    for_s: float | None = Field(default=None, gt=0)
    """refuse: listen again after this many seconds (the fault becomes "ok"); None: until another
    mode is set."""

    @classmethod
    def parse(cls, obj: Any) -> Fault:
        """A fault from the control endpoint's JSON, `{"mode": ..., "params": {...}}`; raises
        ValueError naming each wrong field."""
        if not isinstance(obj, dict):
            raise ValueError('expected a JSON object {"mode": ..., "params": {...}}')
        unknown = set(obj) - {"mode", "params"}
        if unknown:
            raise ValueError(f"unknown key(s) {sorted(unknown)}: send mode and params only")
        params = obj.get("params") or {}
        if not isinstance(params, dict):
            raise ValueError("params must be a JSON object of fault parameters")
        if "mode" in params:
            raise ValueError("give mode beside params, not inside them")
        try:
            return cls.model_validate({"mode": obj.get("mode", "ok"), **params})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'fault'}: {err['msg']}" for err in exc.errors()
            )
            raise ValueError(f"bad fault: {problems} (modes: {', '.join(MODES)})") from exc

    def to_json(self) -> dict[str, Any]:
        """The control endpoint's shape: `{"mode": ..., "params": {...}}`."""
        params = self.model_dump(mode="json", exclude={"mode"})
        return {"mode": self.mode, "params": params}


class FaultPlan:
    """A fault in force and the requests it has counted; used on the server's event loop only."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.counted = 0
        self._share = Fraction(str(fault.fraction))

    def strikes(self, preflight: bool) -> bool:
        """Whether the next request gets the fault (counts the request)."""
        f = self.fault
        if f.mode == "ok" or (preflight and f.spare_preflight):
            return False
        k = self.counted
        self.counted += 1
        if k < f.after:
            return False
        j = k - f.after
        return math.floor((j + 1) * self._share) > math.floor(j * self._share)
