"""How much streaming the real-clock simulator serves on one CPU core before it, and not the
modelled hardware, sets the pace; and whether the default embedded profile stays below that.

The simulator runs in its own process pinned to one core; a load generator in another process
(pinned to another core when there is one) keeps N closed-loop streams open (short prompts, a
fixed reply length, no tool delay). For each N it reports the modelled token rate, the rate the
client received, how late the simulator handed tokens to their streams after their modelled
time, and the simulator process's CPU use (and so its CPU cost per token). The limit is the
first N where the simulator's core is 90% busy, or the mean delivery lag passes 5 ms while its
core is at least half busy (lag with an idle core is the host's other work, and is reported as
such).

Then VirtualLoad finds the concurrency at which the default embedded deployment degrades
(P25 output speed below 20 tok/s on short-context agent turns) and the token rate it streams
there, and prints the headroom between that demand and the measured limit.

    python benchmarks/sim_bench.py [--hardware gb300-nvl72 --model gpt-oss-120b] [--levels 16,64,256]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

LAG_LIMIT_S = 0.005
CPU_LIMIT = 0.9
CPU_BUSY = 0.5
"""Lag counts against the simulator only when its own core is at least this busy."""


def _pin(core: int | None) -> None:
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def _serve(hardware: str, model: str, replicas: int, core: int | None, q: Any) -> None:
    _pin(core)
    from agentperf_tui.core.simulator.embedded import EmbeddedSimulator

    sim = EmbeddedSimulator(hardware, model, replicas=replicas)
    sim.start()
    q.put((sim.base_url, sim.model_name, os.getpid(), sim.describe()))
    while True:
        time.sleep(3600)


def _load(
    base_url: str,
    model: str,
    n: int,
    seconds: float,
    prompt_words: int,
    max_tokens: int,
    core: int | None,
    sim_pid: int,
    q: Any,
) -> None:
    """N closed-loop streams for `seconds`; measures its own window (after the streams are open)."""
    _pin(core)
    import aiohttp

    from agentperf_tui.core.event_loop import new_event_loop

    async def main() -> dict[str, Any]:
        tokens = 0
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(base_url, connector=conn) as s:

            async def stream(i: int) -> None:
                nonlocal tokens
                k = 0
                while True:
                    body = {
                        "model": model,
                        "max_tokens": max_tokens,
                        "ignore_eos": True,
                        "stream": True,
                        "messages": [{"role": "user", "content": f"s{i}-{k} " + "w " * prompt_words}],
                    }
                    async with s.post("/v1/chat/completions", json=body) as r:
                        async for chunk in r.content.iter_any():
                            tokens += chunk.count(b'"content":"') - chunk.count(b'"content":""')
                    k += 1

            tasks = [asyncio.create_task(stream(i)) for i in range(n)]
            await asyncio.sleep(min(2.0, seconds / 4))  # let every stream open

            async def scrape() -> dict[str, float]:
                async with s.get("/metrics") as r:
                    return _parse(await r.text())

            m0, c0, t0, k0 = await scrape(), _cpu_s(sim_pid), time.perf_counter(), tokens
            await asyncio.sleep(seconds)
            m1, c1, t1, k1 = await scrape(), _cpu_s(sim_pid), time.perf_counter(), tokens
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        dt = t1 - t0
        return {"m0": m0, "m1": m1, "cpu": (c1 - c0) / dt, "dt": dt, "received": (k1 - k0) / dt}

    loop = new_event_loop()
    q.put(loop.run_until_complete(main()))
    loop.close()


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _parse(text: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for smp in fam.samples:
            out[smp.name] = out.get(smp.name, 0.0) + smp.value
    return out


def measure(hardware: str, model: str, replicas: int, levels: list[int], seconds: float) -> tuple[int, float]:
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    sim_core = cores[0] if cores else None
    load_core = cores[1] if len(cores) > 1 else None
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    server = ctx.Process(target=_serve, args=(hardware, model, replicas, sim_core, q), daemon=True)
    server.start()
    base_url, model_name, pid, desc = q.get(timeout=60)
    print(f"simulator (pinned to core {sim_core}): {desc}")
    print(f"load generator pinned to core {load_core}; {seconds:.0f} s per level, replies of 200 tokens\n")
    print(
        f"{'streams':>8} {'modelled tok/s':>15} {'received tok/s':>15} {'mean lag ms':>12} "
        f"{'max lag ms':>11} {'sim CPU':>8} {'CPU us/token':>13}"
    )
    limit_n, limit_rate = 0, 0.0
    per_token: list[float] = []
    try:
        wq = ctx.Queue()  # warm-up (connections, allocator, caches), not reported
        wp = ctx.Process(
            target=_load, args=(base_url, model_name, levels[0], 3.0, 50, 200, load_core, pid, wq)
        )
        wp.start()
        wq.get(timeout=120)
        wp.join()
        for n in levels:
            lq = ctx.Queue()
            lp = ctx.Process(
                target=_load, args=(base_url, model_name, n, seconds, 50, 200, load_core, pid, lq)
            )
            lp.start()
            r = lq.get(timeout=seconds + 120)
            lp.join()
            m0, m1, dt, cpu = r["m0"], r["m1"], r["dt"], r["cpu"]
            gen = (m1["vllm:generation_tokens_total"] - m0["vllm:generation_tokens_total"]) / dt
            dkey = "agentperf_sim:tokens_delivered_total"
            delivered = m1[dkey] - m0[dkey]
            lag_key = "agentperf_sim:token_delivery_lag_seconds_total"
            mean_lag = (m1[lag_key] - m0[lag_key]) / delivered if delivered else 0.0
            us = cpu / delivered * dt * 1e6 if delivered else 0.0
            per_token.append(us)
            print(
                f"{n:8d} {gen:15.0f} {r['received']:15.0f} {mean_lag * 1e3:12.2f} "
                f"{m1['agentperf_sim:token_delivery_lag_max_seconds'] * 1e3:11.1f} {cpu:7.0%} {us:13.1f}",
                flush=True,
            )
            if cpu > CPU_LIMIT or (mean_lag > LAG_LIMIT_S and cpu > CPU_BUSY):
                print(
                    f"\nlimit: at {n} streams the simulator sets the pace (mean delivery lag "
                    f"{mean_lag * 1e3:.1f} ms, CPU {cpu:.0%} of its core)"
                )
                break
            if mean_lag > LAG_LIMIT_S:
                print(
                    f"{'':8s} lag with the simulator's core {1 - cpu:.0%} idle: the host's other work, "
                    "not the simulator, delayed it"
                )
            limit_n, limit_rate = n, gen
        else:
            print(f"\nno limit reached up to {levels[-1]} streams")
    finally:
        server.kill()
        server.join()
    print(
        f"the simulator kept up with {limit_n} concurrent streams and {limit_rate:.0f} streamed tok/s "
        f"on one core"
    )
    if per_token:
        best = min(per_token[len(per_token) // 2 :] or per_token)
        print(
            f"its cost is ~{best:.1f} us of CPU per streamed token at high load: one dedicated core "
            f"would saturate near {1e6 / best:,.0f} tok/s"
        )
    return limit_n, limit_rate


def default_profile_demand() -> tuple[int, float]:
    """Concurrency at which the default embedded deployment degrades, and its token rate there."""
    from agentperf_tui.core.simulator.embedded import DEFAULT_HARDWARE, DEFAULT_MODEL
    from agentperf_tui.core.simulator.virtual import VirtualLoad, load_deployment
    from agentperf_tui.core.workload.trajectory import TokenTurn, Trajectory, TrajectoryHeader, load_set

    def traj(i: int) -> Trajectory:
        turns, ctx = [], 0
        for k in range(8):
            new = 2500 + 500 * i if k == 0 else 400 + 100 * i
            t = TokenTurn(
                i=k,
                new_input_tokens=new,
                cached_prefix_tokens=ctx,
                output_tokens=150 + 50 * i,
                tool_delay_s=1.0,
            )
            turns.append(t)
            ctx = t.prompt_tokens + t.output_tokens
        return Trajectory(
            header=TrajectoryHeader(format="agentperf-traj/1", id=f"q{i}", kind="tokens"), turns=tuple(turns)
        )

    quick = Path(__file__).resolve().parents[1] / "trajectories" / "quick"
    if quick.is_dir():
        trajs = load_set(quick)
        print(f"\nworkload: {quick} ({len(trajs)} trajectories)")
    else:
        trajs = [traj(i) for i in range(4)]
        print("\nworkload: 4 synthetic short-context trajectories (trajectories/quick not found)")

    dep = load_deployment(DEFAULT_HARDWARE, DEFAULT_MODEL)
    print(f"default embedded deployment: {dep.describe()}")
    print(f"{'agents':>7} {'P25 tok/s':>10} {'P95 TTFT s':>11} {'streamed tok/s':>15} {'running':>8}")
    found = (0, 0.0)
    for n in (4, 8, 16, 24, 32, 48, 64, 96, 128):
        vl = VirtualLoad(dep, trajs, seed=1)
        vl.set_concurrency(n)
        vl.advance(30.0)
        gen0 = vl.engine.counters.generation_tokens
        res = vl.advance(120.0)
        rate = (vl.engine.counters.generation_tokens - gen0) / 120.0
        speeds = sorted(r.output_speed for r in res)
        ttfts = sorted(r.ttft for r in res)
        p25 = speeds[len(speeds) // 4]
        p95 = ttfts[min(len(ttfts) - 1, int(len(ttfts) * 0.95))]
        print(f"{n:7d} {p25:10.1f} {p95:11.2f} {rate:15.0f} {vl.engine.running:8d}")
        found = (n, max(found[1], rate))
        if p25 < 20.0:
            break
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--hardware",
        default="gb300-nvl72",
        help="a fast modelled deployment, so that the host is what saturates",
    )
    ap.add_argument("--model", default="llama-3.1-8b")
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--levels", default="16,32,64,128,256,512,1024")
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    limit_n, limit_rate = measure(args.hardware, args.model, args.replicas, levels, args.seconds)
    n, rate = default_profile_demand()
    print(
        f"\nthe default profile degrades (P25 < 20 tok/s) by {n} agents, streaming at most ~{rate:.0f} "
        f"tok/s: {limit_rate / rate if rate else float('inf'):.0f}x below the rate the simulator was seen "
        f"to keep up with ({limit_rate:.0f} tok/s, {limit_n} streams)"
    )


if __name__ == "__main__":
    main()
