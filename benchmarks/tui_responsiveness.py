"""Is the console still responsive with many agents running? Event-loop lag, key latency, redraws.

Starts a fixed-N run against the embedded simulator from the console (160x48, Textual's headless
driver; the engine and simulator run in the engine's own process), waits until every agent has
joined, then:

1. steady state: for --steady seconds, how late the console's event loop wakes up (a 10 ms sleep
   in a loop; lag is the time a key press would wait before being handled), and how many
   snapshots per second the dashboard received and drew;
2. key presses: opens and closes the help screen --presses times; each time, the key goes in as a
   terminal would deliver it, and the clock stops when the help screen is mounted.

    python benchmarks/tui_responsiveness.py --agents 1000 --presses 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from textual import events

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.views import Snapshot
from agentperf_tui.tui.app import AgentPerfApp, make_app
from agentperf_tui.tui.screens.dashboard import DashboardScreen
from agentperf_tui.tui.screens.help import HelpScreen

LAG_TICK_S = 0.01


async def loop_lag(seconds: float) -> list[float]:
    lags = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        await asyncio.sleep(LAG_TICK_S)
        lags.append(time.perf_counter() - t - LAG_TICK_S)
    return lags


async def key_latencies(app: AgentPerfApp, presses: int) -> list[float]:
    out = []
    for _ in range(presses):
        t = time.perf_counter()
        app.post_message(events.Key("question_mark", "?"))
        while not (isinstance(app.screen, HelpScreen) and app.screen.is_mounted):
            await asyncio.sleep(0.002)
        out.append(time.perf_counter() - t)
        app.post_message(events.Key("escape", None))
        while not isinstance(app.screen, DashboardScreen):
            await asyncio.sleep(0.002)
        await asyncio.sleep(0.5)
    return out


async def measure(agents: int, presses: int, steady_s: float, trajectories: str, store: Path) -> None:
    cfg = RunConfig(
        concurrency=agents, duration_s=3600.0, telemetry="sim", trajectories=trajectories, store=str(store)
    )
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
        print(f"{agents} agents running after {time.monotonic() - t0:.1f} s ({trajectories} trajectories)")

        counts = {"received": 0, "drawn": 0}
        take = dash.take_snapshot

        def counted_take(snap: Snapshot) -> None:
            counts["received"] += 1
            take(snap)

        async def count_draws() -> None:  # the redraw timer runs every 0.3 s; sample faster than that
            last = dash._drawn
            while True:
                await asyncio.sleep(0.02)
                if dash._drawn is not last:
                    last = dash._drawn
                    counts["drawn"] += 1

        dash.take_snapshot = counted_take  # type: ignore[method-assign]
        sampler = asyncio.create_task(count_draws())
        t_start = time.monotonic()
        lags = await loop_lag(steady_s)
        elapsed = time.monotonic() - t_start
        sampler.cancel()
        rate = {k: v / elapsed for k, v in counts.items()}
        q = statistics.quantiles(lags, n=100)
        print(
            f"steady {steady_s:.0f} s: console event loop lag p50 {q[49] * 1e3:.1f} ms, "
            f"p99 {q[98] * 1e3:.1f} ms, max {max(lags) * 1e3:.0f} ms ({len(lags)} wake-ups); "
            f"snapshots received {rate['received']:.1f}/s, drawn {rate['drawn']:.1f}/s"
        )
        latencies = await key_latencies(app, presses)
        print(
            f"key to help screen mounted: median {statistics.median(latencies) * 1e3:.0f} ms, "
            f"max {max(latencies) * 1e3:.0f} ms over {presses} presses"
        )
        snap = dash.latest
        assert snap is not None
        print(
            f"engine meanwhile: {snap.agents} agents ({snap.agents_waiting} waiting, "
            f"{snap.agents_streaming} streaming, {snap.agents_in_tool} in tool), "
            f"{snap.requests_ok} ok, {snap.requests_failed} failed, "
            f"client lag p99 {snap.client_lag_p99 * 1e3:.0f} ms"
        )
        app.exit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--presses", type=int, default=10)
    ap.add_argument("--steady", type=float, default=15.0, help="seconds of steady-state measurement")
    ap.add_argument("--trajectories", default="trajectories/quick", help="trajectory set (name or folder)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(a.agents, a.presses, a.steady, a.trajectories, Path(tmp) / "runs.sqlite3"))


if __name__ == "__main__":
    main()
