"""Is the console still responsive with many agents running? Key-press latency and redraw rate.

Starts a fixed-N run against the embedded simulator from the console (160x48, Textual's headless
driver), waits until every agent has joined, then opens and closes the help screen a number of
times and reports how long each key took to take effect, plus how many snapshots the dashboard
received and drew per second.

    python benchmarks/tui_responsiveness.py --agents 1000 --presses 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.observer import Snapshot
from agentperf_tui.tui.app import make_app
from agentperf_tui.tui.screens.dashboard import DashboardScreen
from agentperf_tui.tui.screens.help import HelpScreen


async def measure(agents: int, presses: int, store: Path) -> None:
    cfg = RunConfig(concurrency=agents, duration_s=600.0, telemetry="sim", store=str(store))
    app = make_app(cfg, autostart=True)
    async with app.run_test(size=(160, 48)) as pilot:
        t0 = time.monotonic()
        while not (
            isinstance(app.screen, DashboardScreen)
            and app.screen.latest is not None
            and app.screen.latest.agents >= agents
        ):
            if time.monotonic() - t0 > 300:
                raise TimeoutError("agents did not all join within 300 s")
            await pilot.pause(0.2)
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        print(f"{agents} agents running after {time.monotonic() - t0:.1f} s")
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
        latencies = []
        for _ in range(presses):
            t = time.monotonic()
            await pilot.press("question_mark")
            while not isinstance(app.screen, HelpScreen):
                await pilot.pause(0.005)
            latencies.append(time.monotonic() - t)
            await pilot.press("escape")
            while not isinstance(app.screen, DashboardScreen):
                await pilot.pause(0.005)
            await pilot.pause(0.5)
        elapsed = time.monotonic() - t_start
        snap = dash.latest
        assert snap is not None
        print(
            f"key to screen change: median {statistics.median(latencies) * 1e3:.0f} ms, "
            f"max {max(latencies) * 1e3:.0f} ms over {presses} presses"
        )
        sampler.cancel()
        rate = {k: v / elapsed for k, v in counts.items()}
        print(f"snapshots received {rate['received']:.1f}/s, drawn {rate['drawn']:.1f}/s")
        print(
            f"engine meanwhile: {snap.requests_ok} ok, {snap.requests_failed} failed, "
            f"client lag p99 {snap.client_lag_p99 * 1e3:.0f} ms, TTFT p95 {snap.ttft.p95:.2f} s"
        )
        app.exit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--presses", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(a.agents, a.presses, Path(tmp) / "runs.sqlite3"))


if __name__ == "__main__":
    main()
