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


class LevelWindow:
    def __init__(self, n: int) -> None:
        self.n = n
        self.held_at: float | None = None
        self.measure_from: float | None = None
        self._agents: set[int] = set()
        self._last_end: dict[int, float] = {}
        self._t: list[float] = []
        self._speed: list[float] = []
        self._ttft: list[float] = []
        self._ok: list[bool] = []
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
                self._t.append(r.t_intended)
                self._speed.append(r.output_speed)
                self._ttft.append(r.ttft)
                self._ok.append(r.ok)
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
        return len(self._t)

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
        key = (len(self._t), end)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        t = np.asarray(self._t, dtype=np.float64)
        mask = t < end
        speeds = np.sort(np.asarray(self._speed, dtype=np.float64)[mask])
        ttfts = np.sort(np.asarray(self._ttft, dtype=np.float64)[mask])
        ok = np.asarray(self._ok, dtype=bool)[mask]
        d = WindowData(end=end, n=int(mask.sum()), failed=int((~ok).sum()), speeds=speeds, ttfts=ttfts)
        self._cache = (key, d)
        return d

    def trajectory_counts(self, until: float) -> tuple[int, Sequence[int]]:
        """Trajectories completed in [measure_from, until], and the count per reporting agent."""
        if until >= self._traj_last:
            per = self._traj_count
        else:
            per = Counter(a for a, te in self._traj if te <= until)
        return sum(per.values()), [per.get(a, 0) for a in self._agents]
