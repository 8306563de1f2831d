"""The requests of one level's measured window, and which of them are known to be complete.

Agents are sequential: an agent's next request is sent only after its previous one finished.
So once agent a has reported a request that ended at e_a, every request a sent before e_a has
been reported. Over the level's N agents, every request sent before min(e_a) is known: that is
the window's complete prefix, and verdicts are taken on it only, so slow requests still in
flight can never be left out of a percentile.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.order_stats import FloatArray


@dataclass(frozen=True, slots=True)
class WindowData:
    end: float
    n: int
    failed: int
    speeds: FloatArray
    """Sorted ascending; a failed request has speed 0."""
    ttfts: FloatArray
    """Sorted ascending; a failed request has TTFT = inf."""
    t: FloatArray
    """Intended send times, in the order of `speed_raw` and `ttft_raw` (not sorted)."""
    speed_raw: FloatArray
    ttft_raw: FloatArray


class LevelWindow:
    def __init__(self, n: int) -> None:
        self.n = n
        self.held_at: float | None = None
        self.measure_from: float | None = None
        self._agents: set[int] = set()
        self._last_end: dict[int, float] = {}
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
        for r in results:
            a = r.agent_id
            if math.isfinite(r.t_end) and r.t_end > self._last_end.get(a, -math.inf):
                self._last_end[a] = r.t_end
            if self.held_at is not None and r.t_intended >= self.held_at:
                self._agents.add(a)
            if self.measure_from is not None and r.t_intended >= self.measure_from:
                if self._k == self._buf.shape[1]:
                    grown = np.empty((4, 2 * self._k), dtype=np.float64)
                    grown[:, : self._k] = self._buf
                    self._buf = grown
                self._buf[:, self._k] = (r.t_intended, r.output_speed, r.ttft, 1.0 if r.ok else 0.0)
                self._k += 1
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

    def count_before(self, end: float) -> int:
        """How many window requests were sent before `end`."""
        return int(np.count_nonzero(self._buf[0, : self._k] < end))

    def complete_through(self) -> float | None:
        """Every request of the level's agents sent before this time has been reported.

        None until each of the N agents has reported a request sent after the level held."""
        if len(self._agents) < self.n or self.n == 0:
            return None
        ends = sorted((self._last_end[a] for a in self._agents), reverse=True)
        return ends[self.n - 1]

    def oldest_report(self) -> float | None:
        """A fallback end when not all agents have reported: the stalest reporting agent's last end."""
        if not self._agents:
            return None
        return min(self._last_end[a] for a in self._agents)

    def data(self, end: float) -> WindowData:
        """Requests sent in [measure_from, end)."""
        key = (self._k, end)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        b = self._buf[:, : self._k]
        mask = b[0] < end
        t, sp, tt = b[0, mask], b[1, mask], b[2, mask]
        n = int(mask.sum())
        d = WindowData(
            end=end, n=n, failed=n - int(b[3, mask].sum()), speeds=np.sort(sp), ttfts=np.sort(tt),
            t=t, speed_raw=sp, ttft_raw=tt,
        )
        self._cache = (key, d)
        return d

    def trajectory_counts(self, until: float) -> tuple[int, Sequence[int]]:
        """Trajectories completed in [measure_from, until], and the count per reporting agent."""
        if until >= self._traj_last:
            per = self._traj_count
        else:
            per = Counter(a for a, te in self._traj if te <= until)
        return sum(per.values()), [per.get(a, 0) for a in self._agents]
