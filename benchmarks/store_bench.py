"""Run store figures: hand-over-to-disk latency, caller cost, write throughput, bytes on disk per
request, read-back and export speed.

    python benchmarks/store_bench.py [--requests 200000] [--batch 50] [--rate 500] [--dir /tmp]

Paced phase: requests handed over at --rate per second in 20 ms ticks for 5 s, as a run would;
reports how long each tick took to be committed durably. Bulk phase: --requests handed over at
once (writer saturated); reports throughput, then bytes per request, load_run and export_csv.
Synthetic rows look like real ones (long trajectory ids, 1 % failures).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.store import RunStore, export_csv, load_run
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.telemetry.base import GpuSample


def synthetic(n: int, seed: int = 1) -> list[RequestResult]:
    rng = random.Random(seed)
    out = []
    t = 0.0
    for i in range(n):
        t += rng.expovariate(2000.0)
        ok = rng.random() > 0.01
        ttft = rng.uniform(0.05, 3.0)
        out_tok = rng.randint(20, 2000)
        dur = out_tok / rng.uniform(40.0, 200.0)
        out.append(
            RequestResult(
                agent_id=i % 512,
                trajectory_id=f"swe-bench/django__django-{11000 + i % 300}",
                replay=i // 5000,
                turn=i % 40,
                t_intended=t,
                t_sent=t + rng.uniform(0.0, 0.002),
                t_end=t + ttft + dur + 0.01,
                ok=ok,
                t_first_token=t + ttft if ok else None,
                t_last_token=t + ttft + dur if ok else None,
                error=None if ok else "ReadTimeout: no bytes for 60 s",
                http_status=200 if ok else None,
                prompt_tokens=rng.randint(2_000, 120_000) if ok else None,
                cached_tokens=rng.randint(0, 100_000) if ok else None,
                output_tokens=out_tok if ok else None,
                client_output_tokens=out_tok if ok else rng.randint(0, 50),
                requested_output_tokens=out_tok,
                reasoning_tokens=None,
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=50, help="requests per add_requests call")
    ap.add_argument("--rate", type=float, default=500.0, help="requests/s in the paced phase")
    ap.add_argument("--dir", type=Path, default=None, help="where to put the store (default: a temp folder)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="store-bench-", dir=args.dir))
    db = work / "runs.sqlite3"
    results = synthetic(args.requests)

    store = RunStore(db)
    run_id = store.create_run(
        config={"bench": True}, endpoint="http://127.0.0.1:8000/v1", model="bench", simulated=True,
        started_wall=time.time(),
    )  # fmt: skip
    store.flush()
    empty_bytes = _size(work)
    paced_lat, paced_n = paced(store, run_id, args.rate, seconds=5.0)

    per_call: list[float] = []
    t0 = time.perf_counter()
    for i in range(0, len(results), args.batch):
        c0 = time.perf_counter()
        store.add_requests(run_id, results[i : i + args.batch], level=i // 20_000)
        per_call.append(time.perf_counter() - c0)
    enqueued = time.perf_counter() - t0
    samples = [GpuSample(t=float(s), gpu=str(g), power_w=650.0) for s in range(600) for g in range(8)]
    store.add_telemetry(run_id, samples, source="bench")
    for idx in range(args.requests // 20_000 + 1):
        store.put_level(run_id, LevelRecord(index=idx, n=2**idx, started_at=float(idx)))
    store.flush(timeout=600)
    written = time.perf_counter() - t0
    status = store.status()
    store.finish_run(run_id, status="finished", summary={"result_n": 1})
    store.close()  # last connection: checkpoints the WAL into the main file
    disk = _size(work) - empty_bytes

    r0 = time.perf_counter()
    run = load_run(db, run_id)
    loaded = time.perf_counter() - r0
    e0 = time.perf_counter()
    export_csv(db, run_id, work / "csv")
    exported = time.perf_counter() - e0

    per_call.sort()
    paced_lat.sort()
    n = len(results)
    total = n + paced_n
    print(f"store: {db}")
    p50, p99, worst = (_pct(paced_lat, q) * 1e3 for q in (0.5, 0.99, 1.0))
    print(f"paced {args.rate:g} req/s for 5 s: hand-over to durable commit p50 {p50:.0f} ms, "
          f"p99 {p99:.0f} ms, max {worst:.0f} ms")  # fmt: skip
    print(f"bulk: {n} requests, {args.batch} per add_requests call, {status.commits} commits")
    print(f"caller cost      p50 {per_call[len(per_call) // 2] * 1e6:8.1f} us/call  "
          f"p99 {per_call[int(len(per_call) * 0.99)] * 1e6:8.1f} us/call  "
          f"({enqueued / n * 1e6:.2f} us/request to enqueue)")  # fmt: skip
    print(f"write throughput {n / written:10.0f} requests/s (enqueue to durable commit, writer saturated)")
    print(f"disk             {disk / total:10.1f} bytes/request (incl. index; telemetry {8 * 600} rows)")
    print(f"load_run         {total / loaded:10.0f} requests/s read back as arrays ({loaded:.2f} s)")
    print(f"export_csv       {total / exported:10.0f} requests/s ({exported:.2f} s)")
    print(f"ratio: write throughput / paced rate = {n / written / args.rate:.0f}x headroom")
    assert len(run.requests) == total


def paced(store: RunStore, run_id: str, rate: float, seconds: float) -> tuple[list[float], int]:
    """Hand requests over at `rate`; return each tick's hand-over-to-commit latency and the count."""
    tick = 0.02
    per_tick = max(1, round(rate * tick))
    results = synthetic(int(per_tick * seconds / tick) + per_tick, seed=2)
    ticks: list[tuple[float, int]] = []  # (handed at, cumulative requests written once committed)
    base = store.status().requests_written
    latencies: list[float] = []
    done = threading.Event()

    def poll() -> None:
        i = 0
        while not (done.is_set() and i >= len(ticks)):
            written = store.status().requests_written - base
            now = time.perf_counter()
            while i < len(ticks) and ticks[i][1] <= written:
                latencies.append(now - ticks[i][0])
                i += 1
            time.sleep(0.002)

    poller = threading.Thread(target=poll)
    poller.start()
    start = time.perf_counter()
    sent = 0
    while sent + per_tick <= len(results) and time.perf_counter() - start < seconds:
        store.add_requests(run_id, results[sent : sent + per_tick], level=None)
        sent += per_tick
        ticks.append((time.perf_counter(), sent))
        time.sleep(max(0.0, start + len(ticks) * tick - time.perf_counter()))
    done.set()
    poller.join()
    return latencies, sent


def _pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("runs.sqlite3*") if p.is_file())


if __name__ == "__main__":
    main()
