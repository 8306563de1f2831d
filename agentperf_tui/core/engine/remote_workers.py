"""Agents in load workers: processes on this machine or Ray actors on others, all speaking
protocol.WorkerCommand. The coordinator spreads N over the workers so the total is exactly N,
gathers their reports a few times a second, puts their times on its own clock, and notices a
worker that dies: its open requests count as failed, its agents restart on the others, and the
run says so (docs/scale-out.md)."""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from agentperf_tui.core.endpoint import is_loopback
from agentperf_tui.core.engine.config import ConfigError
from agentperf_tui.core.engine.fleet import AgentCounts, TrajectoryDone
from agentperf_tui.core.engine.load import ClockOffset, LoadReport, join_spread
from agentperf_tui.core.engine.open_requests import OpenBatch
from agentperf_tui.core.engine.protocol import (
    Pause,
    Ping,
    Poll,
    Resume,
    SetShare,
    StartWorker,
    StopWorker,
    WorkerCommand,
    WorkerFailed,
    WorkerReply,
    WorkerReport,
    WorkerSpec,
)
from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.search.window import OpenRequest

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 30.0
"""A worker that does not answer a command within this long is taken for dead."""
START_TIMEOUT_S = 120.0
PINGS = 7
RESYNC_S = 60.0
"""How often the clock offsets of workers on other machines are measured again."""

EventFn = Callable[[str, str], None]


class WorkerLost(RuntimeError):
    pass


class WorkerLink(Protocol):
    """One worker, as the coordinator reaches it."""

    name: str

    def send(self, command: WorkerCommand) -> None: ...

    def receive(self, timeout: float) -> WorkerReply:
        """The reply to the last command sent; raises WorkerLost when the worker is gone."""

    def close(self) -> None:
        """Release the worker (its process or actor), by its own handle."""

    def describe_end(self) -> str:
        """How the worker ended, when it did (exit code, actor error)."""


def split(n: int, k: int) -> list[int]:
    """n agents over k workers, the first n % k workers one more: the total is exactly n."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


class RemoteWorkers:
    def __init__(
        self,
        kind: str,
        links: Sequence[WorkerLink],
        clock: Callable[[], float],
        event: EventFn,
        *,
        shared_clock: bool,
    ) -> None:
        self.kind = kind
        self.workers = len(links)
        self._links = list(links)
        self._alive = [True] * len(links)
        self._clock = clock
        self._event = event
        self._shared = shared_clock
        self._offsets: list[ClockOffset] = []
        self._target = 0
        self._shares: dict[int, int] = {}
        self._respread = False
        self._last_opens: list[OpenBatch] = [OpenBatch.empty() for _ in links]
        self._pending = LoadReport()
        """Reports gathered outside a poll (at stop, from dead workers), handed over at the next."""
        self._lock = threading.Lock()
        self._last_sync = 0.0
        self._stopped = False
        self.incidents: list[str] = []
        self.elsewhere: list[str] = []
        """Other machines some workers run on (Ray nodes away from the coordinator)."""

    # ---- rounds of one command to every live worker ----
    def _round(
        self, command: Callable[[int], WorkerCommand], timeout: float = REPLY_TIMEOUT_S
    ) -> dict[int, WorkerReport]:
        sent = []
        for i, link in enumerate(self._links):
            if not self._alive[i]:
                continue
            try:
                link.send(command(i))
                sent.append(i)
            except WorkerLost as e:
                self._bury(i, str(e))
        replies: dict[int, WorkerReport] = {}
        for i in sent:
            try:
                reply = self._links[i].receive(timeout)
            except WorkerLost as e:
                self._bury(i, str(e))
                continue
            if isinstance(reply, WorkerFailed):
                self._event("warn", f"load worker {self._links[i].name}: {reply.error}")
                continue
            replies[i] = reply
        if not any(self._alive):
            raise WorkerLost(f"every load worker has ended: {self.incidents[-1] if self.incidents else ''}")
        if self._respread:
            # only now: every worker of this round has answered, so each pipe is free again
            self._respread = False
            self._set_target(self._target)
        return replies

    def _offset(self, i: int) -> float:
        return self._offsets[i].offset_s if i < len(self._offsets) else 0.0

    # ---- Load ----
    async def start(self, spec: WorkerSpec) -> None:
        away = [h for h in self.elsewhere if not is_loopback(f"http://{h}")]
        if away and is_loopback(spec.base_url):
            raise ConfigError(
                f"the endpoint {spec.base_url} is reachable from this machine only, but load workers run on "
                f"{', '.join(away)}: give an --endpoint every node can reach (for the simulator, "
                "`agentperf-tui sim --host 0.0.0.0` on a host the nodes reach)"
            )
        with self._lock:
            # a worker on another machine keeps its clock's own zero; its offset is measured
            zero = spec.clock_zero if self._shared else None
            own = dataclasses.replace(spec, count=self.workers, clock_zero=zero)
            replies = self._round(lambda i: StartWorker(dataclasses.replace(own, index=i)), START_TIMEOUT_S)
            if not replies:
                raise WorkerLost(f"no load worker started ({'; '.join(self.incidents) or 'no reply'})")
            self._measure_offsets()

    def _measure_offsets(self) -> None:
        """Round trips, as NTP does: offset = the coordinator's clock at the middle of the shortest
        round trip minus the worker's clock in its reply, uncertain by half that round trip."""
        best: dict[int, tuple[float, float]] = {}
        for _ in range(PINGS):
            for i, link in enumerate(self._links):
                if not self._alive[i]:
                    continue
                t0 = self._clock()
                try:
                    link.send(Ping())
                    reply = link.receive(REPLY_TIMEOUT_S)
                except WorkerLost as e:
                    self._bury(i, str(e))
                    continue
                t1 = self._clock()
                if isinstance(reply, WorkerReport) and (i not in best or t1 - t0 < best[i][1]):
                    best[i] = ((t0 + t1) / 2 - reply.clock, t1 - t0)
        offsets = []
        for i, link in enumerate(self._links):
            measured, rtt = best.get(i, (0.0, math.inf))
            offset = 0.0 if self._shared else measured
            offsets.append(ClockOffset(link.name, offset, rtt / 2, self._shared))
            if self._shared and abs(measured) > rtt / 2 + 1e-3:
                self.incidents.append(
                    f"worker {link.name}: its clock reads {measured * 1e3:+.2f} ms from the coordinator's "
                    f"although both share one monotonic clock (round trip {rtt * 1e3:.2f} ms)"
                )
        self._offsets = offsets
        self._last_sync = self._clock()

    def offsets(self) -> list[ClockOffset]:
        return list(self._offsets)

    @property
    def target(self) -> int:
        return self._target

    def set_target(self, n: int) -> None:
        with self._lock:
            if not self._stopped:
                self._set_target(n)

    def _set_target(self, n: int) -> None:
        alive = [i for i, a in enumerate(self._alive) if a]
        if not alive:
            return
        running = sum(self._shares.get(i, 0) for i in alive)
        spread = join_spread(max(0, n - running))
        shares = dict(zip(alive, split(n, len(alive)), strict=True))
        self._target = n
        self._shares = shares
        self._round(lambda i: SetShare(shares[i], spread))

    def pause(self) -> None:
        with self._lock:
            self._round(lambda i: Pause())

    def resume(self) -> None:
        with self._lock:
            self._round(lambda i: Resume())

    def poll(self) -> LoadReport:
        with self._lock:
            if self._stopped:
                report, self._pending = self._pending, LoadReport()
                return report
            if not self._shared and self._clock() - self._last_sync > RESYNC_S:
                self._check_offsets()
            replies = self._round(lambda i: Poll())
            report, self._pending = self._pending, LoadReport()
            counts = [report.counts]
            for i, reply in replies.items():
                off = self._offset(i)
                report.results.extend(_shift_result(r, off) for r in reply.results)
                report.done.extend(_shift_done(d, off) for d in reply.done)
                opens = reply.opens.shifted(off)
                self._last_opens[i] = opens
                report.opens.append(opens)
                counts.append(reply.counts)
                report.active += reply.active
            report.counts = AgentCounts(
                agents=sum(c.agents for c in counts),
                waiting=sum(c.waiting for c in counts),
                streaming=sum(c.streaming for c in counts),
                in_tool=sum(c.in_tool for c in counts),
                leaving=sum(c.leaving for c in counts),
            )
            return report

    def _check_offsets(self) -> None:
        before = {o.worker: o for o in self._offsets}
        self._measure_offsets()
        for o in self._offsets:
            old = before.get(o.worker)
            if old is not None and abs(o.offset_s - old.offset_s) > o.uncertainty_s + old.uncertainty_s:
                self.incidents.append(
                    f"worker {o.worker}: clock offset moved by {(o.offset_s - old.offset_s) * 1e3:+.1f} ms "
                    f"(uncertainty {o.uncertainty_s * 1e3:.1f} ms)"
                )
                self._event("warn", self.incidents[-1])

    async def stop(self) -> None:
        with self._lock:
            replies = self._round(lambda i: StopWorker(), REPLY_TIMEOUT_S * 2)
            for i, reply in replies.items():
                off = self._offset(i)
                self._pending.results.extend(_shift_result(r, off) for r in reply.results)
                self._pending.done.extend(_shift_done(d, off) for d in reply.done)
            for link in self._links:
                link.close()
            self._stopped = True

    # ---- a worker that is gone ----
    def _bury(self, i: int, why: str) -> None:
        """Worker i is gone: its open requests count as failed, its agents restart on the others."""
        if not self._alive[i]:
            return
        self._alive[i] = False
        link = self._links[i]
        end = link.describe_end()
        link.close()
        now = self._clock()
        lost = [_lost(o, now, why) for o in self._last_opens[i].requests()]
        self._pending.results.extend(lost)
        alive = sum(self._alive)
        text = (
            f"load worker {link.name} ended ({why}{'; ' + end if end else ''}): {len(lost)} open "
            f"requests counted as failed"
        )
        if alive:
            text += f"; its agents restart on the {alive} other worker(s), N stays {self._target}"
        self.incidents.append(text)
        self._event("error", text)
        log.error(text)
        self._shares.pop(i, None)
        self._respread = alive > 0 and self._target > 0


def _lost(o: OpenRequest, now: float, why: str) -> RequestResult:
    """An open request of a worker that ended: a failure of its own kind."""
    return RequestResult(
        agent_id=o.agent_id,
        trajectory_id=o.trajectory_id,
        replay=o.replay,
        turn=o.turn,
        t_intended=o.t_intended,
        t_sent=o.t_intended,
        t_end=now,
        ok=False,
        t_first_token=o.t_first_token,
        error=f"the load worker running this agent ended ({why})",
        requested_output_tokens=o.requested_tokens,
        failure="worker_lost",
        node=o.node,
    )


def _shift_result(r: RequestResult, off: float) -> RequestResult:
    if off == 0.0:
        return r
    return dataclasses.replace(
        r,
        t_intended=r.t_intended + off,
        t_sent=r.t_sent + off,
        t_end=r.t_end + off,
        t_first_token=None if r.t_first_token is None else r.t_first_token + off,
        t_last_token=None if r.t_last_token is None else r.t_last_token + off,
    )


def _shift_done(d: TrajectoryDone, off: float) -> TrajectoryDone:
    return TrajectoryDone(d.agent_id, d.t_start + off, d.t_end + off)
