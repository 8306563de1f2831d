"""A small closed-loop load model on a virtual clock, for testing the search without the simulator.

N agents each walk trajectories of `turns` requests with tool delays between them. A request's
TTFT and output speed are drawn when it is sent, from lognormal laws whose medians degrade with
the number of agents active at that moment:

    speed median = speed0 / (1 + N / speed_halving_n)
    TTFT  median = ttft0 * (1 + (N / ttft_knee_n) ** ttft_power)

so the true capacity at a tier is known in closed form (`true_capacity`). `degrade` lets a test
make one visit of one N behave worse (a level that passes once and fails its confirmation).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.window import OpenRequest

Z = NormalDist()


@dataclass
class _Agent:
    id: int
    retiring: bool = False
    busy: bool = False
    traj_start: float = 0.0
    turn: int = 0
    replay: int = 0
    pending: RequestResult | None = None
    """The request in flight (its future figures; only what has happened by `now` is visible)."""


@dataclass
class SyntheticLoad:
    seed: int = 0
    turns: int = 6
    output_tokens: int = 200
    speed0: float = 150.0
    speed_halving_n: float = 64.0
    speed_sigma: float = 0.15
    ttft0: float = 0.4
    ttft_knee_n: float = 80.0
    ttft_power: float = 3.0
    ttft_sigma: float = 0.5
    fail_prob: float = 0.0
    tool_delay_median: float = 1.0
    gpu_count: int = 8
    idle_w: float = 150.0
    busy_w: float = 700.0
    saturation_n: float = 64.0
    degrade: Callable[[int, int], float] | None = None
    """(N, visit) -> TTFT multiplier for requests sent during that visit of that N."""
    hang_prob: float = 0.0
    """Share of requests that hang: no first token for `hang_s` (then they fail)."""
    hang_s: float = 1e9
    hang_from: float = math.inf
    """From this time on every request hangs (the server stops answering)."""
    now: float = 0.0
    energy_j: float = 0.0
    _agents: dict[int, _Agent] = field(default_factory=dict)
    _events: list[tuple[float, int, int, object]] = field(default_factory=list)
    _seq: int = 0
    _next_id: int = 0
    _done_traj: list[tuple[int, float, float]] = field(default_factory=list)
    _visits: dict[int, int] = field(default_factory=dict)
    _target: int = 0
    _in_flight: int = 0
    _active: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self._z: list[float] = []
        self._u: list[float] = []

    def _normal(self) -> float:
        if not self._z:
            self._z = self.rng.standard_normal(4096).tolist()
        return self._z.pop()

    def _uniform(self) -> float:
        if not self._u:
            self._u = self.rng.uniform(size=4096).tolist()
        return self._u.pop()

    # ---- the closed form ----------------------------------------------------------------------
    def speed_median(self, n: float) -> float:
        return self.speed0 / (1.0 + n / self.speed_halving_n)

    def ttft_median(self, n: float) -> float:
        return self.ttft0 * (1.0 + (n / self.ttft_knee_n) ** self.ttft_power)

    def true_p25_speed(self, n: int) -> float:
        # a failed request has speed 0: the P25 of the mixture is the ((0.25 - f) / (1 - f))
        # quantile of the successful requests' law
        q = (0.25 - self.fail_prob) / (1.0 - self.fail_prob)
        return 0.0 if q <= 0 else self.speed_median(n) * math.exp(self.speed_sigma * Z.inv_cdf(q))

    def true_p95_ttft(self, n: int) -> float:
        q = 0.95 / (1.0 - self.fail_prob)
        return math.inf if q >= 1 else self.ttft_median(n) * math.exp(self.ttft_sigma * Z.inv_cdf(q))

    def true_capacity(self, speed_floor: float, ttft_limit: float, max_n: int = 100_000) -> int:
        best = 0
        for n in range(1, max_n + 1):
            if self.true_p25_speed(n) >= speed_floor and self.true_p95_ttft(n) <= ttft_limit:
                best = n
            else:
                break
        return best

    # ---- the virtual load ---------------------------------------------------------------------
    @property
    def active_agents(self) -> int:
        return self._active

    @property
    def leaving_agents(self) -> int:
        return len(self._agents) - self._active

    def power_w(self) -> float:
        util = min(1.0, self._in_flight / self.saturation_n)
        return self.gpu_count * (self.idle_w + (self.busy_w - self.idle_w) * util)

    def set_concurrency(self, n: int) -> None:
        self._target = n
        self._visits[n] = self._visits.get(n, 0) + 1
        live = sorted(a.id for a in self._agents.values() if not a.retiring)
        if len(live) > n:
            for aid in live[n:]:
                a = self._agents[aid]
                a.retiring = True
                self._active -= 1
                if not a.busy:
                    del self._agents[aid]
        else:
            for _ in range(n - len(live)):
                a = _Agent(self._next_id, traj_start=self.now)
                self._next_id += 1
                self._agents[a.id] = a
                self._active += 1
                self._push(self.now + self._uniform(), a.id, "send")

    def open_requests(self) -> list[OpenRequest]:
        """The requests in flight now, as far as they have got."""
        out = []
        for a in self._agents.values():
            r = a.pending
            if r is not None:
                seen = r.t_first_token is not None and r.t_first_token <= self.now
                first = r.t_first_token if seen else None
                out.append(
                    OpenRequest(
                        a.id, r.t_intended, first, r.requested_output_tokens, r.trajectory_id, r.replay,
                        r.node, r.turn,
                    )
                )
        return out

    def trajectories_completed(self) -> list[tuple[int, float, float]]:
        out, self._done_traj = self._done_traj, []
        return out

    def advance(self, seconds: float) -> list[RequestResult]:
        end = self.now + seconds
        out: list[RequestResult] = []
        while self._events and self._events[0][0] <= end:
            t, _, aid, payload = heapq.heappop(self._events)
            self._integrate(t)
            a = self._agents.get(aid)
            if a is None:
                continue
            if payload == "send":
                self._send(a, t)
            else:
                assert isinstance(payload, RequestResult)
                out.append(payload)
                self._finish(a, payload, t)
        self._integrate(end)
        return out

    def _integrate(self, t: float) -> None:
        if t > self.now:
            self.energy_j += self.power_w() * (t - self.now)
            self.now = t

    def _push(self, t: float, aid: int, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._events, (t, self._seq, aid, payload))

    def _send(self, a: _Agent, t: float) -> None:
        if a.retiring:
            del self._agents[a.id]
            return
        n = self.active_agents
        mult = self.degrade(self._target, self._visits.get(self._target, 0)) if self.degrade else 1.0
        ttft = self.ttft_median(n) * mult * math.exp(self.ttft_sigma * self._normal())
        speed = self.speed_median(n) * math.exp(self.speed_sigma * self._normal())
        ok = self.fail_prob == 0.0 or self._uniform() >= self.fail_prob
        if t >= self.hang_from or (self.hang_prob and self._uniform() < self.hang_prob):
            ok, ttft = False, self.hang_s
        t_first = t + ttft
        t_last = t_first + (self.output_tokens - 1) / speed
        r = RequestResult(
            agent_id=a.id,
            trajectory_id=f"syn-{a.replay}",
            replay=a.replay,
            turn=a.turn,
            t_intended=t,
            t_sent=t,
            t_end=t_last if ok else t_first,
            ok=ok,
            t_first_token=t_first if ok else None,
            t_last_token=t_last if ok else None,
            error=None if ok else "synthetic failure",
            output_tokens=self.output_tokens if ok else None,
            client_output_tokens=self.output_tokens if ok else 0,
            requested_output_tokens=self.output_tokens,
        )
        a.busy = True
        a.pending = r
        self._in_flight += 1
        self._push(r.t_end, a.id, r)

    def _finish(self, a: _Agent, r: RequestResult, t: float) -> None:
        a.busy = False
        a.pending = None
        self._in_flight -= 1
        if a.retiring:
            del self._agents[a.id]
            return
        a.turn += 1
        if a.turn >= self.turns:
            self._done_traj.append((a.id, a.traj_start, t))
            a.turn, a.replay = 0, a.replay + 1
            delay = 0.0
            a.traj_start = t
        else:
            delay = float(self.tool_delay_median * math.exp(0.8 * self._normal()))
            delay = min(5.0, max(0.1, delay))
        self._push(t + delay, a.id, "send")
