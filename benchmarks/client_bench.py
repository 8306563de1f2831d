"""How much the stream client costs and how much it distorts what it measures.

Method: benchmarks/mock_stream_server.py on one CPU (16-token prompt, 128-token streams, first token
100 ms after the request arrives, then one every 20 ms +/- 2 ms), a client process pinned to
another CPU running a closed loop of C concurrent streams through `StreamClient` (each stream
starts as soon as the previous one of its slot ended). Per run, after a warm-up, one window of
`--duration` seconds:

  tokens/s     tokens the server sent in the window / window length (server-counted)
  % ideal      against C * 128 / (0.100 + 127 * 0.020): what a client costing nothing gets
  us/token     client CPU (user + system of the client process, which has no children) / tokens
  in flight    mean of the server's open-stream count, sampled every 10 ms, and its ratio to C
  TTFT bias    client TTFT (first token received - intended send) minus server TTFT (first token
               sent - request arrived), p50 / p99, ms
  ITL bias     client inter-token gap minus the server's gap between the same two sends, p50/p99, ms
  delivery     client receive time - server send time of each token, p50 / p99, ms (same clock)

Streams whose request was sent inside the window feed the bias figures; they are parsed after the
window closes, so the window holds only the stream loop. `parse us/token` is that parsing
(`parse_stream`, the off-hot-path work the engine adds per token) timed separately.

Also: bytes per stored request record in the engine's `RequestColumns` (1M records, tracemalloc).

    python benchmarks/client_bench.py                       # full: 16/64/256/512, 40 s, 3 repeats
    python benchmarks/client_bench.py --duration 8 --repeats 1 --concurrency 512 --backend httpx
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from mock_stream_server import process_io, stream_shape

from agentperf_tui.core.client.request import CHAT_PATH, chat_body
from agentperf_tui.core.client.sse import iter_events, parse_stream
from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.records import RawExchange, RequestResult

HERE = Path(__file__).resolve().parent
TTFT = 0.100
GAP = 0.020
JITTER = 0.002
TOKENS = 128
PROMPT = "Summarise the failing test output below and propose the smallest fix for it please."


LEGEND = """medians over repeats. %ideal: tokens/s against a client costing nothing;
ratio: streams in flight at the server / C; us/tok: client CPU per streamed token;
cpu%: client CPU share of a core; sys%: the kernel's part of the client's CPU;
TTFTb, ITLb: TTFT and inter-token bias (ms, client-measured minus server-done);
dlv: token delivery delay, server send -> client (ms); TTFT bias = client lag + send + first:
send99: request sent -> the server's loop read it, frst99: first token sent -> received (ms);
lag99, slag99: p99 lateness of a 10 ms timer on the client's, the server's loop (ms);
cRQ%, sRQ%: share of the window the client, the server waited runnable for
a CPU (held off by other processes); s-us: server CPU per token (us); parse: parse_stream CPU
per token (us), off the hot path; rd/t, B/rd: the client's read calls per token, bytes per read;
cslp/t, sslp/t: times the client, the server went to sleep (voluntary context switches) per
token; swr/t: the server's write calls per token; conn/s: new connections per stream"""


def ideal_tokens_per_s(concurrency: int) -> float:
    return concurrency * TOKENS / (TTFT + (TOKENS - 1) * GAP)


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def system_seconds() -> float:
    return os.times().system


def runqueue_wait_s() -> float:
    """Seconds this process spent runnable but waiting for a CPU (Linux schedstat), nan elsewhere."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def hist_percentile(counts: np.ndarray, bin_s: float, q: float) -> float:
    """The upper edge of the bin holding the q-th percentile of a histogram."""
    total = int(counts.sum())
    if total == 0:
        return float("nan")
    idx = int(np.searchsorted(np.cumsum(counts), q / 100 * total))
    return (idx + 1) * bin_s


async def loop_lag(samples: list[float], period: float = 0.01) -> None:
    """How late the event loop wakes a timer: the client's own scheduling delay."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + period
        await asyncio.sleep(period)
        samples.append(loop.time() - due)


# ---------------------------------------------------------------- worker (one run, pinned client)


def bias_samples(kept: list[RawExchange]) -> dict[str, list[float]]:
    ttft: list[float] = []
    itl: list[float] = []
    delivery: list[float] = []
    lag: list[float] = []
    send: list[float] = []
    first: list[float] = []
    for ex in kept:
        if ex.error is not None or ex.status != 200:
            continue
        lag.append(ex.t_sent - ex.t_intended)
        prev: tuple[float, float] | None = None
        for t, _event, data in iter_events(ex.chunks, ex.times):
            if data is None or not data.startswith(b"{"):
                continue
            obj = orjson.loads(data)
            ts = obj.get("ts")
            if ts is None:
                continue
            if prev is None:
                ttft.append((t - ex.t_intended) - (ts - obj["t_recv"]))
                send.append(obj["t_recv"] - ex.t_sent)
                first.append(t - ts)
            else:
                itl.append((t - prev[0]) - (ts - prev[1]))
            delivery.append(t - ts)
            prev = (t, ts)
    return {"ttft": ttft, "itl": itl, "delivery": delivery, "lag": lag, "send": send, "first": first}


async def worker(args: argparse.Namespace) -> dict[str, Any]:
    clock = time.perf_counter
    url = f"http://127.0.0.1:{args.port}"
    client = StreamClient(url, backend=args.backend, max_connections=max(4096, 2 * args.concurrency))
    body = chat_body("mock", [{"role": "user", "content": PROMPT}], max_tokens=TOKENS, exact=True)
    kept: list[RawExchange] = []
    window = [float("inf"), float("inf")]
    running = True
    errors: dict[str, int] = {}
    stream_time = TTFT + (TOKENS - 1) * GAP

    async def agent(slot: int) -> None:
        await asyncio.sleep(stream_time * slot / args.concurrency)
        while running:
            ex = await client.stream(CHAT_PATH, body, clock(), clock)
            if ex.error is not None:
                errors[ex.error] = errors.get(ex.error, 0) + 1
            if window[0] <= ex.t_sent < window[1]:
                kept.append(ex)

    tasks = [asyncio.create_task(agent(i)) for i in range(args.concurrency)]
    await asyncio.sleep(args.warmup)
    lags: list[float] = []
    s0 = await client.get_json("/stats")
    c0, k0, w0, io0 = cpu_seconds(), system_seconds(), runqueue_wait_s(), process_io()
    window[0] = clock()
    lag_task = asyncio.create_task(loop_lag(lags))
    await asyncio.sleep(args.duration)
    lag_task.cancel()
    window[1] = clock()
    c1, k1, w1, io1 = cpu_seconds(), system_seconds(), runqueue_wait_s(), process_io()
    s1 = await client.get_json("/stats")
    # let the streams sent inside the window finish, then stop every slot
    await asyncio.sleep(stream_time + 0.5)
    running = False
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    retries = client.stats.reuse_retries
    await client.aclose()

    tokens = s1["tokens"] - s0["tokens"]
    seconds = s1["now"] - s0["now"]
    complete = [ex for ex in kept if ex.t_end <= window[1] + stream_time + 0.5]
    p0 = cpu_seconds()
    parsed = [parse_stream(ex) for ex in complete]
    parse_cpu = cpu_seconds() - p0
    parsed_tokens = sum(p.client_output_tokens for p in parsed)
    samples = bias_samples(complete)
    return {
        "backend": args.backend,
        "loop": args.loop,
        "concurrency": args.concurrency,
        "duration": seconds,
        "tokens_per_s": tokens / seconds,
        "us_per_token": 1e6 * (c1 - c0) / max(tokens, 1),
        "client_cpu_share": (c1 - c0) / seconds,
        "client_kernel_share": (k1 - k0) / max(c1 - c0, 1e-9),
        "client_runq_wait": (w1 - w0) / seconds,
        "server_runq_wait": (s1["runq_wait"] - s0["runq_wait"]) / seconds,
        "server_us_per_token": 1e6 * (s1["cpu"] - s0["cpu"]) / max(tokens, 1),
        "server_lag_p99": hist_percentile(
            np.asarray(s1["lag_hist"]) - np.asarray(s0["lag_hist"]), s1["lag_bin_s"], 99
        )
        * 1e3,
        "loop_lag_p50": float(np.percentile(lags, 50)) * 1e3 if lags else float("nan"),
        "loop_lag_p99": float(np.percentile(lags, 99)) * 1e3 if lags else float("nan"),
        "in_flight": (s1["sample_sum"] - s0["sample_sum"]) / max(s1["sample_n"] - s0["sample_n"], 1),
        "parse_us_per_token": 1e6 * parse_cpu / max(parsed_tokens, 1),
        **stream_shape(s0, s1, io0, io1),
        "failed_parse": sum(not p.ok for p in parsed),
        "streams_checked": len(parsed),
        "errors": errors,
        "reuse_retries": retries,
        **{
            f"{name}_p{q}": float(np.percentile(np.asarray(v), q)) * 1e3 if v else float("nan")
            for name, v in samples.items()
            for q in (50, 99)
        },
    }


def worker_main(args: argparse.Namespace) -> None:
    if args.client_cpu is not None:
        os.sched_setaffinity(0, {args.client_cpu})
    if args.loop == "uvloop":
        import uvloop

        result = uvloop.run(worker(args))
    else:
        result = asyncio.run(worker(args))
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------- orchestration


def priority_setter(nice: int | None) -> Callable[[], None] | None:
    """For a busy shared machine: run a child in its own session, so its own scheduling autogroup,
    at `nice` (Linux; a negative value needs root). None: inherit everything."""
    if nice is None:
        return None

    def apply() -> None:
        os.setsid()
        autogroup = Path("/proc/self/autogroup")
        if autogroup.exists():
            autogroup.write_text(str(nice))
        os.setpriority(os.PRIO_PROCESS, 0, nice)

    return apply


def start_server(port: int, cpu: int | None, nice: int | None) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        str(HERE / "mock_stream_server.py"),
        "--port",
        str(port),
        "--ttft",
        str(TTFT),
        "--gap",
        str(GAP),
        "--jitter",
        str(JITTER),
        "--tokens",
        str(TOKENS),
    ]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, preexec_fn=priority_setter(nice))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("mock server did not start")


def run_one(args: argparse.Namespace, backend: str, loop: str, concurrency: int) -> dict[str, Any]:
    server = start_server(args.port, args.server_cpu, args.priority)
    try:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--port",
            str(args.port),
            "--backend",
            backend,
            "--loop",
            loop,
            "--concurrency",
            str(concurrency),
            "--duration",
            str(args.duration),
            "--warmup",
            str(args.warmup),
        ]
        if args.client_cpu is not None:
            cmd += ["--client-cpu", str(args.client_cpu)]
        done = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=priority_setter(args.priority))
        if done.returncode != 0:
            raise SystemExit(f"client worker failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        server.terminate()
        server.wait(10)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


COLUMNS: list[tuple[str, str, str, float]] = [
    # (header, key, format, scale)
    ("tok/s", "tokens_per_s", ">7.0f", 1.0),
    ("us/tok", "us_per_token", ">6.1f", 1.0),
    ("cpu%", "client_cpu_share", ">4.0f", 100.0),
    ("sys%", "client_kernel_share", ">4.0f", 100.0),
    ("infl", "in_flight", ">6.1f", 1.0),
    ("TTFTb50", "ttft_p50", ">7.2f", 1.0),
    ("TTFTb99", "ttft_p99", ">7.2f", 1.0),
    ("ITLb50", "itl_p50", ">6.2f", 1.0),
    ("ITLb99", "itl_p99", ">6.2f", 1.0),
    ("dlv50", "delivery_p50", ">6.2f", 1.0),
    ("dlv99", "delivery_p99", ">6.2f", 1.0),
    ("send99", "send_p99", ">6.2f", 1.0),
    ("frst99", "first_p99", ">6.2f", 1.0),
    ("lag99", "loop_lag_p99", ">6.2f", 1.0),
    ("slag99", "server_lag_p99", ">6.2f", 1.0),
    ("cRQ%", "client_runq_wait", ">4.0f", 100.0),
    ("sRQ%", "server_runq_wait", ">4.0f", 100.0),
    ("s-us", "server_us_per_token", ">5.1f", 1.0),
    ("parse", "parse_us_per_token", ">5.1f", 1.0),
    ("rd/t", "client_reads_per_token", ">4.2f", 1.0),
    ("B/rd", "client_bytes_per_read", ">4.0f", 1.0),
    ("cslp/t", "client_sleeps_per_token", ">6.3f", 1.0),
    ("swr/t", "server_writes_per_token", ">5.2f", 1.0),
    ("sslp/t", "server_sleeps_per_token", ">6.3f", 1.0),
    ("conn/s", "connections_per_stream", ">6.3f", 1.0),
]
HEADER = "    C  %ideal ratio " + " ".join(f"{h:>{f[1:].split('.')[0]}}" for h, _k, f, _s in COLUMNS)


def summarise(runs: list[dict[str, Any]]) -> str:
    """Medians over repeats, plus the lowest token rate as a share of ideal (worst repeat)."""

    def med(key: str) -> float:
        return float(statistics.median(r[key] for r in runs))

    c = runs[0]["concurrency"]
    ideal = ideal_tokens_per_s(c)
    cells = " ".join(f"{med(k) * scale:{f}}" for _h, k, f, scale in COLUMNS)
    return f"{c:>5} {100 * med('tokens_per_s') / ideal:>6.1f}% {med('in_flight') / c:>5.3f} {cells}"


def sample_result(i: int, t0: float) -> RequestResult:
    return RequestResult(
        agent_id=i % 512,
        trajectory_id=f"traj-{i % 40}",
        replay=i % 7,
        turn=i % 60,
        t_intended=t0,
        t_sent=t0 + 1e-4,
        t_end=t0 + 3.1,
        ok=i % 50 != 0,
        t_first_token=t0 + 0.4,
        t_last_token=t0 + 3.0,
        error=None if i % 50 else "HTTP 500: boom",
        http_status=200 if i % 50 else 500,
        prompt_tokens=20000 + i % 1000,
        cached_tokens=19000,
        output_tokens=128,
        client_output_tokens=128,
        requested_output_tokens=128,
    )


def record_memory(n: int) -> str:
    """Bytes per stored request: the engine's `RequestColumns` against a list of `RequestResult` objects."""
    from agentperf_tui.core.metrics.columns import RequestColumns

    t = np.cumsum(np.random.default_rng(1).uniform(0, 0.01, n)).tolist()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    cols = RequestColumns()
    batch = 4096
    for start in range(0, n, batch):
        cols.extend(sample_result(i, t[i]) for i in range(start, min(n, start + batch)))
    used = tracemalloc.get_traced_memory()[0] - base
    m = min(n, 100_000)
    base = tracemalloc.get_traced_memory()[0]
    objects = [sample_result(i, t[i]) for i in range(m)]
    used_objects = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del objects
    return (
        f"RequestColumns: {n:,} records, {used / n:.1f} bytes/record traced "
        f"({cols.nbytes() / n:.1f} in columns incl. growth headroom, row size {cols.bytes_per_record()} B); "
        f"RequestResult objects for comparison: {used_objects / m:.0f} bytes/record"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--backend",
        nargs="+",
        default=["httptools", "aiohttp", "httpx"],
        choices=["httptools", "aiohttp", "httpx"],
    )
    p.add_argument("--loop", nargs="+", default=["uvloop"], choices=["uvloop", "asyncio"])
    p.add_argument("--concurrency", nargs="+", type=int, default=[16, 64, 256, 512])
    p.add_argument("--duration", type=float, default=40.0, help="measured window per run, s")
    p.add_argument("--warmup", type=float, default=6.0, help="s before the window (staggered start)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--port", type=int, default=18765)
    p.add_argument("--client-cpu", type=int, default=0)
    p.add_argument("--server-cpu", type=int, default=1)
    p.add_argument("--records", type=int, default=1_000_000, help="records for the memory figure (0: skip)")
    p.add_argument(
        "--priority",
        type=int,
        default=None,
        metavar="NICE",
        help="start client and server in their own scheduling groups at this nice value (busy machine)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write every run as JSON lines here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        args.backend = args.backend[0]
        args.loop = args.loop[0]
        args.concurrency = args.concurrency[0]
        worker_main(args)
        return

    print(
        f"mock: TTFT {TTFT * 1e3:.0f} ms, gap {GAP * 1e3:.0f} +/- {JITTER * 1e3:.0f} ms, {TOKENS} tokens; "
        f"client on CPU {args.client_cpu}, server on CPU {args.server_cpu}; window {args.duration:g} s "
        f"after {args.warmup:g} s warm-up, {args.repeats} repeat(s); load average {load_average()}; "
        f"scheduling: {'inherited' if args.priority is None else f'own groups at nice {args.priority}'}"
    )
    print(LEGEND)
    for backend in args.backend:
        for loop in args.loop:
            print(f"\n{backend} + {loop}\n{HEADER}", flush=True)
            for c in args.concurrency:
                runs = []
                for _ in range(args.repeats):
                    r = run_one(args, backend, loop, c)
                    runs.append(r)
                    if args.json:
                        with args.json.open("a") as fh:
                            fh.write(json.dumps(r) + "\n")
                    if r["errors"] or r["failed_parse"]:
                        print(f"      errors: {r['errors']} failed parses: {r['failed_parse']}")
                print(summarise(runs), flush=True)
    print("\nideal tokens/s: " + ", ".join(f"C={c}: {ideal_tokens_per_s(c):,.0f}" for c in args.concurrency))
    print(f"load average at the end: {load_average()}")
    if args.records:
        print(record_memory(args.records))


if __name__ == "__main__":
    main()
