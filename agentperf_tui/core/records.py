"""Per-request records shared by the client, the engine, metrics, search and the store.

Times are seconds on the run clock: `time.perf_counter()` minus the run's start, so every
timestamp of a run is comparable and unaffected by wall-clock steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

FAILURE_KINDS: tuple[str, ...] = (
    "connect",
    "reset",
    "timeout",
    "stalled",
    "rate_limited",
    "http",
    "server_error",
    "malformed",
    "truncated",
    "no_output",
    "open_at_end",
    "worker_lost",
)
"""How a request can fail. connect: no connection; reset: the connection broke; timeout: the
request outlived --request-timeout; stalled: no byte for the stall timeout; rate_limited: HTTP
429; http: any other HTTP error status; server_error: an error object in the stream; malformed:
not SSE or not JSON; truncated: the stream ended without `data: [DONE]`; no_output: a complete
stream without an output token; open_at_end: still open when the run stopped; worker_lost: open
in a load worker that ended (its process died, its node went away)."""


@dataclass(slots=True)
class RawExchange:
    """What the stream loop records for one request: bytes and timestamps, nothing parsed."""

    t_intended: float
    t_sent: float = math.nan
    status: int | None = None
    chunks: list[bytes] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    t_end: float = math.nan
    error: str | None = None
    """Transport-level failure (connect error, reset, timeout), None when the stream ended normally."""
    failure: str | None = None
    """The failure kind the client decided itself ("stalled", "timeout"), else None."""
    retry_after: str | None = None
    """The response's Retry-After header, when it had one."""


@dataclass(slots=True)
class RequestResult:
    """One finished request, parsed off the hot path.

    TTFT counts from the intended send time; a failed request has TTFT = inf and speed = 0.
    """

    agent_id: int
    trajectory_id: str
    replay: int
    turn: int
    t_intended: float
    t_sent: float
    t_end: float
    ok: bool
    t_first_token: float | None = None
    t_last_token: float | None = None
    error: str | None = None
    http_status: int | None = None
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    output_tokens: int | None = None
    """From the server's usage; None when the server sent no usage."""
    client_output_tokens: int = 0
    """Output deltas counted by the client (reasoning, content and tool-call deltas)."""
    requested_output_tokens: int = 0
    reasoning_tokens: int | None = None
    failure: str | None = None
    """Why it failed, as one of FAILURE_KINDS; None when ok."""
    node: str = "root"
    """The agent of the trajectory tree that sent it ("root": the main agent)."""

    @classmethod
    def streamed(
        cls, agent_id: int, trajectory_id: str, replay: int, turn: int, node: str, t_intended: float,
        t_sent: float, t_first: float, t_last: float, prompt_tokens: int, cached_tokens: int,
        output_tokens: int, requested_output_tokens: int,
    ) -> RequestResult:
        """A request that streamed its whole reply (ok), its server and client token counts
        equal: what a simulated request yields. Built with positional arguments (a simulated run
        makes hundreds of thousands of them)."""
        return cls(
            agent_id, trajectory_id, replay, turn, t_intended, t_sent, t_last, True, t_first, t_last, None,
            None, prompt_tokens, cached_tokens, output_tokens, output_tokens, requested_output_tokens, None,
            None, node,
        )

    @property
    def ttft(self) -> float:
        if not self.ok or self.t_first_token is None:
            return math.inf
        return self.t_first_token - self.t_intended

    @property
    def output_speed(self) -> float:
        """(output tokens - 1) / (last token - first token), tokens from usage, else client count.

        A reply whose tokens all arrived in one network read (first and last token at the same
        instant) was faster than the client can time: +inf, never 0, which means failed.
        """
        if not self.ok or self.t_first_token is None or self.t_last_token is None:
            return 0.0
        n = self.output_tokens if self.output_tokens is not None else self.client_output_tokens
        if n <= 1:
            return 0.0
        dt = self.t_last_token - self.t_first_token
        return (n - 1) / dt if dt > 0 else math.inf

    @property
    def client_lag(self) -> float:
        return self.t_sent - self.t_intended

    @property
    def usage_mismatch(self) -> bool:
        """The stream carried more output deltas than the server's usage counts tokens: its usage
        cannot be right. (Fewer deltas than tokens is normal: a delta may carry several tokens,
        or none when a model emits empty deltas.)"""
        return self.output_tokens is not None and self.client_output_tokens > self.output_tokens

    @property
    def length_mismatch(self) -> bool:
        """The server did not generate the exact number of tokens asked for."""
        n = self.output_tokens if self.output_tokens is not None else self.client_output_tokens
        return self.ok and self.requested_output_tokens > 0 and n != self.requested_output_tokens
