"""The requests of one level's measured window: those reported, and those still open.

A linear agent is sequential, so once every agent of the level has reported, every request sent
before the oldest of their latest ends is known (the window's complete prefix). An agent that is
a tree has several requests in flight, so a sub-agent's request sent earlier may still be open
after a later one has ended: the complete prefix also stops at the send time of every request
still open. When a level must be judged before every agent has reported, the requests still open
are counted too, as right-censored values: docs/search.md, "No survivor bias".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.order_stats import FloatArray

RequestKey = tuple[int, str, int, str, int]
"""agent, trajectory, replay, node, turn: one request of a run."""


def key_of(r: RequestResult) -> RequestKey:
    return (r.agent_id, r.trajectory_id, r.replay, r.node, r.turn)


class OpenRequest(NamedTuple):
    """A request in flight, as far as it has got. (A named tuple: loads hand over thousands a few
    times a second, and one costs a quarter of a frozen dataclass to make.)"""

    agent_id: int
    t_intended: float
    t_first_token: float | None
    """When its first output token arrived; None: not yet."""
    requested_tokens: int
    trajectory_id: str = ""
    replay: int = 0
    node: str = "root"
    turn: int = 0

    @property
    def key(self) -> RequestKey:
        return (self.agent_id, self.trajectory_id, self.replay, self.node, self.turn)


class SentInOrder(Sequence[OpenRequest]):
    """Requests in flight listed in the order they were sent (their intended send times never
    decrease), so a reader that wants those sent before some time may stop at the first one sent
    after it. A load that keeps its requests in flight in that order hands them over as one."""

    __slots__ = ()


OpenFn = Callable[[], Sequence[OpenRequest]]
"""The requests in flight now (asked only when a level is judged)."""


def sent_between(opens: Iterable[OpenRequest], start: float, end: float) -> Iterator[OpenRequest]:
    """The open requests sent in [start, end); a list in send order is read only up to `end`."""
    if isinstance(opens, SentInOrder):
        for o in opens:
            t = o.t_intended
            if t >= end:
                return
            if t >= start:
                yield o
    else:
        for o in opens:
            if start <= o.t_intended < end:
                yield o


@dataclass(frozen=True, slots=True)
class Censored:
    """What an open request's figures are known to be at `now`: a value on the failing side of a
    criterion when it has certainly missed it, else the most optimistic value it can still reach.
    `*_known` says whether the value is certain to be on its side of the threshold."""

    ttft: float
    ttft_known: bool
    speed: float
    speed_known: bool


def censor(o: OpenRequest, now: float, speed_floor: float, ttft_limit: float) -> Censored:
    """TTFT is at least the time since it was due while no token has come; output speed is at most
    (requested - 1) / (now - first token), whatever the rest of the stream does."""
    if o.t_first_token is None:
        waited = now - o.t_intended
        return Censored(waited, waited > ttft_limit, math.inf, False)
    ttft = o.t_first_token - o.t_intended
    elapsed = now - o.t_first_token
    top = (o.requested_tokens - 1) / elapsed if elapsed > 0 and o.requested_tokens > 1 else math.inf
    if o.requested_tokens <= 1:
        top = 0.0
    return Censored(ttft, True, top, top < speed_floor)


@dataclass(frozen=True, slots=True)
class WindowData:
    end: float
    n: int
    """Requests in the window: reported, and open ones counted as censored values."""
    failed: int
    speeds: FloatArray
    """Sorted ascending; a failed request has speed 0; an open one its censored value, 0 when it
    may still miss (pessimistic)."""
    ttfts: FloatArray
    """Sorted ascending; a failed request has TTFT = inf; an open one inf when it may still miss."""
    t: FloatArray
    """Intended send times, in the order of `speed_raw` and `ttft_raw` (not sorted)."""
    speed_raw: FloatArray
    ttft_raw: FloatArray
    open: int = 0
    """Open requests among the n."""
    speeds_hi: FloatArray | None = None
    """With open requests: sorted speeds with each open one at the best it can still reach."""
    ttfts_lo: FloatArray | None = None
    """With open requests: sorted TTFTs with each open one at the best it can still reach."""
    speed_raw_hi: FloatArray | None = None
    ttft_raw_lo: FloatArray | None = None


class LevelWindow:
    def __init__(self, n: int) -> None:
        self.n = n
        self.held_at: float | None = None
        self.measure_from: float | None = None
        self._agents: set[int] = set()
        self._last_end: dict[int, float] = {}
        self._reported: set[RequestKey] = set()
        """The requests reported since the level held (an open one among them is counted once)."""
        self._k = 0
        self._buf = np.empty((4, 1024), dtype=np.float64)
        """Rows: intended send time, output speed, TTFT, 1.0 if ok else 0.0; columns [0, _k) in use."""
        self._traj: list[tuple[int, float]] = []
        self._traj_count: Counter[int] = Counter()
        self._traj_last = -math.inf
        self._cache: tuple[tuple[int, float], WindowData] | None = None

    def hold(self, t: float | None) -> None:
        """All N agents active from t (None: the level fell back into transition)."""
        self.held_at = t
        self._agents.clear()

    def add(self, results: Iterable[RequestResult], trajectories: Iterable[tuple[int, float, float]]) -> None:
        held = self.held_at if self.held_at is not None else math.inf
        mf = self.measure_from if self.measure_from is not None else math.inf
        last_end, reported, agents = self._last_end, self._reported, self._agents
        rows: list[tuple[float, float, float, float]] = []
        isfinite, never = math.isfinite, -math.inf
        for r in results:
            a, te, ti = r.agent_id, r.t_end, r.t_intended
            if isfinite(te) and te > last_end.get(a, never):
                last_end[a] = te
            if ti >= held:
                reported.add((a, r.trajectory_id, r.replay, r.node, r.turn))  # key_of(r)
                agents.add(a)
            if ti >= mf:
                rows.append((ti, r.output_speed, r.ttft, 1.0 if r.ok else 0.0))
        if rows:
            k, m = self._k, len(rows)
            if k + m > self._buf.shape[1]:
                grown = np.empty((4, max(2 * self._buf.shape[1], k + m)), dtype=np.float64)
                grown[:, :k] = self._buf[:, :k]
                self._buf = grown
            self._buf[:, k : k + m] = np.array(rows, dtype=np.float64).T
            self._k = k + m
        if self.measure_from is not None:
            mf = self.measure_from
            for a, _ts, te in trajectories:
                if te >= mf:
                    self._traj.append((a, te))
                    self._traj_count[a] += 1
                    self._traj_last = max(self._traj_last, te)

    @property
    def agents_reporting(self) -> int:
        return len(self._agents)

    @property
    def received(self) -> int:
        return self._k

    def kth_sent(self, k: int) -> float:
        """The k-th earliest send time (1-based) of the window's reported requests: a window
        ending at or before it holds fewer than k of them (-inf when k is not positive)."""
        if k <= 0:
            return -math.inf
        t = self._buf[0, : self._k]
        return float(np.partition(t, k - 1)[k - 1])

    def count_before(self, end: float) -> int:
        """How many window requests were sent before `end`."""
        return int(np.count_nonzero(self._buf[0, : self._k] < end))

    def unreported(self, opens: Iterable[OpenRequest]) -> list[OpenRequest]:
        """The open requests not reported yet (a request may finish between the snapshot of the
        requests in flight and the hand-over of the finished ones: it is counted once)."""
        return [o for o in opens if o.key not in self._reported]

    def accounted_through(
        self,
        opens: Sequence[OpenRequest],
        now: float,
        thresholds: tuple[float, float],
        open_fraction: float = 0.0,
        short_of: float = -math.inf,
    ) -> float:
        """Every request of the window sent before this time is accounted for: reported, or open
        and already a miss on a criterion (it counts as one). It is now, unless a request of the
        window still in flight may yet meet the tier: then its send time, so a level is never
        judged on the requests that happened to finish first, nor on a convenient early stretch of
        its window. Requests sent before the window (an earlier level's, a retiring agent's last
        one) are not in it and hold nothing back, however long they stream.

        With `open_fraction` > 0 the window may run past streams that may still meet the speed
        floor (each then counts as a censored value) while they are at most that fraction of the
        requests sent before its end, and up to one TTFT limit before now at most: every request
        sent before that either has its first token or is a TTFT miss, so the TTFT of each request
        in the window is known and only the speed of those streams is censored.

        With `short_of` (and no `open_fraction`), the first end found at or before it is returned
        at once: an end at least as late as the true one, which the caller uses only to learn
        that the window does not reach past `short_of`."""
        floor, limit = thresholds
        mf = self.measure_from if self.measure_from is not None else -math.inf
        reported = self._reported
        end = now
        pending: list[float] = []
        # in send order, the first request that holds the window back is the earliest one
        first_holds = isinstance(opens, SentInOrder) and not open_fraction
        # censor()'s two miss tests, inline: this runs on every open request at every look
        for o in opens:
            t = o.t_intended
            if t < mf:
                continue
            if t >= end and not open_fraction:
                if first_holds:
                    break
                continue
            first = o.t_first_token
            if first is None:
                if now - t > limit:
                    continue  # no token yet, already past the TTFT limit
            elif first - t > limit:
                continue  # its first token came too late
            else:
                elapsed = now - first
                k = o.requested_tokens
                top = 0.0 if k <= 1 else (k - 1) / elapsed if elapsed > 0 else math.inf
                if top < floor:
                    continue  # cannot reach the speed floor any more
            if o.key not in reported:
                if open_fraction:
                    pending.append(t)
                elif t <= short_of or first_holds:
                    return t
                else:
                    end = t
        if not pending:
            return end
        return self._end_with_open(sorted(pending), now - limit, open_fraction)

    def _end_with_open(self, pending: list[float], horizon: float, fraction: float) -> float:
        """The latest of the pending send times after the first, and `horizon`, that is at most
        `horizon` and has the pending requests sent before it at most `fraction` of the window's
        requests sent before it (else pending[0])."""
        if not horizon > pending[0]:
            return pending[0]
        ends = np.array([*(t for t in pending[1:] if t < horizon), horizon])
        held_open = np.arange(1, len(ends) + 1)
        sent = np.searchsorted(np.sort(self._buf[0, : self._k]), ends) + held_open
        ok = np.flatnonzero(held_open <= fraction * sent)
        return float(ends[ok[-1]]) if ok.size else pending[0]

    def complete_through(self, opens: Iterable[OpenRequest] = ()) -> float | None:
        """Every request of the level's agents sent before this time has been reported.

        None until each of the N agents has reported a request sent after the level held. A
        request in `opens` (still in flight) holds it back to that request's send time: a tree's
        sub-agent request can be older than the latest request its agent reported."""
        if len(self._agents) < self.n or self.n == 0:
            return None
        ends = sorted((self._last_end[a] for a in self._agents), reverse=True)
        return min([ends[self.n - 1], *(o.t_intended for o in self.unreported(opens))])

    def data(
        self,
        end: float,
        opens: Sequence[OpenRequest] = (),
        now: float = math.nan,
        thresholds: tuple[float, float] = (0.0, math.inf),
    ) -> WindowData:
        """Requests sent in [measure_from, end): the reported ones, and the `opens` (still in
        flight at `now`) censored against `thresholds` = (speed floor, TTFT limit)."""
        mf = self.measure_from if self.measure_from is not None else -math.inf
        inside = self.unreported(sent_between(opens, mf, end))
        key = (self._k, end)
        if not inside and self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        b = self._buf[:, : self._k]
        mask = b[0] < end
        t, sp, tt = b[0, mask], b[1, mask], b[2, mask]
        n = int(mask.sum())
        failed = n - int(b[3, mask].sum())
        if not inside:
            d = WindowData(
                end=end, n=n, failed=failed, speeds=np.sort(sp), ttfts=np.sort(tt),
                t=t, speed_raw=sp, ttft_raw=tt,
            )  # fmt: skip
            self._cache = (key, d)
            return d
        floor, limit = thresholds
        cs = [censor(o, now, floor, limit) for o in inside]
        t_all = np.concatenate([t, [o.t_intended for o in inside]])
        sp_lo = np.concatenate([sp, [c.speed if c.speed_known else 0.0 for c in cs]])
        sp_hi = np.concatenate([sp, [c.speed for c in cs]])
        tt_hi = np.concatenate([tt, [c.ttft if c.ttft_known else math.inf for c in cs]])
        tt_lo = np.concatenate([tt, [c.ttft for c in cs]])
        return WindowData(
            end=end, n=n + len(inside), failed=failed, speeds=np.sort(sp_lo), ttfts=np.sort(tt_hi),
            t=t_all, speed_raw=sp_lo, ttft_raw=tt_hi, open=len(inside),
            speeds_hi=np.sort(sp_hi), ttfts_lo=np.sort(tt_lo), speed_raw_hi=sp_hi, ttft_raw_lo=tt_lo,
        )  # fmt: skip

    def trajectory_counts(self, until: float) -> tuple[int, Sequence[int]]:
        """Trajectories completed in [measure_from, until], and the count per reporting agent."""
        if until >= self._traj_last:
            per = self._traj_count
        else:
            per = Counter(a for a, te in self._traj if te <= until)
        return sum(per.values()), [per.get(a, 0) for a in self._agents]
