"""Is the console still responsive with many agents running? Event-loop lag, key latency, redraws.

Starts a fixed-N run against the embedded simulator from the console (160x48, Textual's headless
driver; the engine and simulator run in the engine's own process), waits until every agent has
joined, then:

1. steady state: for --steady seconds, how late the console's event loop wakes up (a 10 ms sleep
   in a loop; lag is the time a key press would wait before being handled), and how many
   snapshots per second the dashboard received and drew;
2. key presses: opens and closes the help screen --presses times; each time, the key goes in as a
   terminal would deliver it, and the clock is read when the help screen is mounted and when its
   first paint is done (what the operator sees).

    python benchmarks/tui_responsiveness.py --agents 1000 --presses 10

With --mock the agents stream from benchmarks/mock_stream_server.py instead (one token every
--gap seconds, so thousands of streams stay open and the server keeps up); --search TIER runs a
search that starts (and stays) at --agents; --workers K puts the agents in K worker processes,
--ray local in Ray actors on a two-node Ray cluster started on 127.0.0.1 for the benchmark:

    python benchmarks/tui_responsiveness.py --agents 4096 --mock --search 0.5/30 --workers 2
    python benchmarks/tui_responsiveness.py --agents 4096 --mock --search 0.5/30 --ray local

It also prints the console process's CPU time (all its threads) per snapshot drawn during the
steady phase and from each key to its paint, which depend less on what else the machine runs
than the latencies do, the load average beside them, the cycle collector's pauses in the
console, and the size of a snapshot as it crosses from the engine.
--profile FILE writes a cProfile of the console's UI loop over the steady phase and the presses
(read it with `python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import os
import pickle
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from scale_bench import start_mock
from textual import events

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.views import Event, Snapshot
from agentperf_tui.tui.app import AgentPerfApp, make_app
from agentperf_tui.tui.screens.dashboard import DashboardScreen
from agentperf_tui.tui.screens.help import HelpScreen

LAG_TICK_S = 0.01


class CollectorPauses:
    """CPU time of each cycle collection on the UI thread (a pause no key press gets past)."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.pauses[info["generation"]].append(time.thread_time() - self._started)

    def start(self) -> CollectorPauses:
        gc.callbacks.append(self)
        return self

    def stop(self) -> None:
        gc.callbacks.remove(self)

    def __str__(self) -> str:
        return ", ".join(
            f"generation {g}: {len(p)} collections, max {max(p, default=0) * 1e3:.0f} ms"
            for g, p in self.pauses.items()
        )


async def loop_lag(seconds: float) -> list[float]:
    lags = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        await asyncio.sleep(LAG_TICK_S)
        lags.append(time.perf_counter() - t - LAG_TICK_S)
    return lags


async def key_latencies(app: AgentPerfApp, presses: int) -> tuple[list[float], list[float], list[float]]:
    """Seconds from each key press to the help screen mounted, and to its first paint done; and
    the console process's CPU seconds over the latter."""
    mounted, painted, cpu = [], [], []
    for _ in range(presses):
        t, c = time.perf_counter(), time.process_time()
        app.post_message(events.Key("question_mark", "?"))
        while not (isinstance(app.screen, HelpScreen) and app.screen.is_mounted):
            await asyncio.sleep(0.002)
        mounted.append(time.perf_counter() - t)
        await app.screen.wait_for_refresh()
        painted.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        app.post_message(events.Key("escape", None))
        while not isinstance(app.screen, DashboardScreen):
            await asyncio.sleep(0.002)
        await asyncio.sleep(0.5)
    return mounted, painted, cpu


def config(a: argparse.Namespace, store: Path, endpoint: str | None, ray: str | None) -> RunConfig:
    run: dict[str, object] = {"mode": "fixed", "duration_s": 3600.0}
    if a.search:
        run = {"mode": "search", "tier": a.search, "max_concurrency": a.agents, "warmup_s": 5.0}
    return RunConfig(
        concurrency=a.agents, trajectories=a.trajectories, store=str(store), endpoint=endpoint,
        telemetry="none" if endpoint else "sim", scrape_server_metrics=endpoint is None,
        workers=a.workers, ray=ray, exact_length=endpoint is None,  # the mock is slow to probe
        **run,  # type: ignore[arg-type]
    )  # fmt: skip


async def measure(cfg: RunConfig, agents: int, presses: int, steady_s: float, profile: Path | None) -> None:
    app = make_app(cfg, autostart=True)
    async with app.run_test(size=(160, 48)) as pilot:
        t0 = time.monotonic()
        while not (
            isinstance(app.screen, DashboardScreen)
            and app.screen.latest is not None
            and app.screen.latest.agents >= agents
        ):
            if time.monotonic() - t0 > 120:
                s = app.screen.latest if isinstance(app.screen, DashboardScreen) else None
                seen = "no snapshot yet" if s is None else f"{s.agents} of {s.target_n} agents"
                raise TimeoutError(f"the agents did not all join within 120 s: {seen}")
            await pilot.pause(0.2)
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        load = f"{cfg.workers} workers" if cfg.workers else "workers by default"
        if cfg.ray:
            load = f"Ray actors ({cfg.ray})"
        print(
            f"{agents} agents running after {time.monotonic() - t0:.1f} s ({cfg.trajectories} trajectories, "
            f"{cfg.mode}, {load}, {cfg.endpoint or 'embedded simulator'})"
        )

        counts = {"received": 0, "drawn": 0, "events": 0}
        take, take_event = dash.take_snapshot, dash.take_event

        def counted_take(snap: Snapshot) -> None:
            counts["received"] += 1
            take(snap)

        def counted_event(event: Event) -> None:
            counts["events"] += 1
            take_event(event)

        async def count_draws() -> None:  # the redraw timer runs every 0.3 s; sample faster than that
            last = dash._drawn
            while True:
                await asyncio.sleep(0.02)
                if dash._drawn is not last:
                    last = dash._drawn
                    counts["drawn"] += 1

        dash.take_snapshot = counted_take  # type: ignore[method-assign]
        dash.take_event = counted_event  # type: ignore[method-assign]
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        sampler = asyncio.create_task(count_draws())
        collector = CollectorPauses().start()
        t_start, cpu_start = time.monotonic(), time.process_time()
        lags = await loop_lag(steady_s)
        elapsed, cpu = time.monotonic() - t_start, time.process_time() - cpu_start
        sampler.cancel()
        rate = {k: v / elapsed for k, v in counts.items()}
        q = statistics.quantiles(lags, n=100)
        print(
            f"steady {steady_s:.0f} s: console event loop lag p50 {q[49] * 1e3:.1f} ms, "
            f"p99 {q[98] * 1e3:.1f} ms, max {max(lags) * 1e3:.0f} ms ({len(lags)} wake-ups); "
            f"snapshots received {rate['received']:.1f}/s, drawn {rate['drawn']:.1f}/s; "
            f"events {rate['events']:.1f}/s"
        )
        per_draw = f"{cpu / counts['drawn'] * 1e3:.0f} ms" if counts["drawn"] else "no snapshot drawn"
        print(
            f"console process CPU {cpu / elapsed * 100:.0f}% of a core, {per_draw} per snapshot drawn; "
            f"load average {_load()}"
        )
        mounted, painted, cpu_per_key = await key_latencies(app, presses)
        collector.stop()
        print(f"cycle collector in the console over both: {collector}")
        if profiler and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        for what, latencies in (("mounted", mounted), ("painted", painted)):
            print(
                f"key to help screen {what}: median {statistics.median(latencies) * 1e3:.0f} ms, "
                f"max {max(latencies) * 1e3:.0f} ms over {presses} presses"
            )
        print(
            f"console process CPU from key to paint: median {statistics.median(cpu_per_key) * 1e3:.0f} ms; "
            f"load average {_load()}"
        )
        snap = dash.latest
        assert snap is not None
        print(f"a snapshot crosses from the engine as {len(pickle.dumps(snap)):,} bytes (pickled)")
        print(
            f"engine meanwhile: {snap.agents} agents ({snap.requests_waiting} waiting, "
            f"{snap.requests_streaming} streaming, {snap.agents_in_tool} in tool), "
            f"{snap.requests_ok} ok, {snap.requests_failed} failed, "
            f"client lag p99 {snap.client_lag_p99 * 1e3:.0f} ms"
        )
        app.exit()


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--presses", type=int, default=10)
    ap.add_argument("--steady", type=float, default=15.0, help="seconds of steady-state measurement")
    ap.add_argument("--trajectories", default="trajectories/quick", help="trajectory set (name or folder)")
    ap.add_argument("--mock", action="store_true", help="stream from the slow mock server, not the simulator")
    ap.add_argument("--gap", type=float, default=0.5, help="--mock: seconds between tokens")
    ap.add_argument("--port", type=int, default=18779)
    ap.add_argument("--search", metavar="TIER", help="run a search at this tier, held at --agents")
    ap.add_argument("--workers", type=int, help="load worker processes (default: from the agent count)")
    ap.add_argument("--ray", choices=["local"], help="local: a two-node Ray cluster on 127.0.0.1")
    ap.add_argument("--profile", type=Path, metavar="FILE", help="cProfile the console's UI loop into FILE")
    a = ap.parse_args()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        endpoint = None
        if a.mock:
            mock = start_mock(a.port, None, 0.1, a.gap)
            stack.callback(mock.wait, 10)
            stack.callback(mock.terminate)
            endpoint = f"http://127.0.0.1:{a.port}"
        ray = stack.enter_context(local_ray()) if a.ray else None
        cfg = config(a, tmp / "runs.sqlite3", endpoint, ray)
        asyncio.run(measure(cfg, a.agents, a.presses, a.steady, a.profile))


@contextlib.contextmanager
def local_ray() -> Iterator[str]:
    """A head and a second node on 127.0.0.1 (Ray's cluster utilities), stopped afterwards."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # bind to 127.0.0.1; read at import
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        c.add_node(num_cpus=1)
        c.wait_for_nodes()
        yield c.address
    finally:
        c.shutdown()


if __name__ == "__main__":
    main()
