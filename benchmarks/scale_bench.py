"""What scaling the load out costs and how many agents one machine drives, measured on the real
engine (`run --headless`) against benchmarks/mock_stream_server.py.

  python benchmarks/scale_bench.py cpu      # client CPU per streamed token: --workers 1 vs 2 (and more)
  python benchmarks/scale_bench.py agents   # 4,096 agents against a slow-stream mock: in flight,
                                            # TTFT bias, memory per agent
  python benchmarks/scale_bench.py worker   # one load worker in this process: its loop lag, polls,
                                            # collections, memory per agent

cpu: a closed loop of C agents (default 512), each turn asking 128 tokens of a short prompt with
no tool delay, the mock server pinned to one CPU (128-token streams, first token 100 ms after the
request, then one every 20 ms), the engine and its workers pinned to another. Over a window after
the warm-up: tokens the server sent, and the CPU of the engine process and its worker processes
(/proc), so us/token counts everything the tool spends per token: streaming, parsing, statistics,
the store.

agents: N agents (default 4,096) replaying real text trajectories (AA agentperf-local, imported
into a temporary folder from ../shared/datasets) against a mock that streams a token every 0.5 s,
so each stream lasts a minute or more and the server keeps up. By default the set holds one
trajectory per recorded turn (the conversation as sent at that turn, then the turns after it), so
the agents hold contexts of every length the recordings reach (5 to 160 KB of JSON);
--from-first-turn replays the recordings from their start. The run is made without the
exact-length probe (--no-exact-length: against this mock it would take minutes), which leaves
`ignore_eos` and `min_tokens` out of the bodies. After the agents have joined and a warm-up, over
a window of --duration seconds:
- in flight: the server's mean open streams over the agents due a request, i.e. the mean number
  of stored requests between their intended send time and their end (the recorded tool time
  between turns is not counted); in flight over N beside it;
- TTFT bias: engine TTFT minus the mock's 100 ms, for the requests due in the window, and
  separately for the joining agents' first requests; the client lag (actual send minus intended
  send), the server loop's lag, how late the server sent first tokens (after its 100 ms from a
  request's arrival), its CPU and how long it waited for a CPU beside it, since the bias counts
  both sides;
- client CPU: the engine tree's CPU share, per streamed token and per request sent;
- memory: the engine tree's resident memory per agent (RSS at N minus RSS at 256 agents, over
  the difference), so the shared trajectory set is not counted.
Latencies depend on what else the machine runs: each figure comes with the load average.

worker: one load worker (the class a worker process runs) in this process with --worker-agents
agents (default 2,048, one of two workers' share of 4,096), the same trajectories and mock; over
the window: the lag of a 10 ms timer on the worker's event loop, the CPU and size of each poll
(as the coordinator makes them, four a second), the cycle collector's runs and pauses, and the
process's memory per agent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from client_bench import priority_setter
from mock_stream_server import stream_shape

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATASET = ROOT.parent / "shared" / "datasets" / "aa-agentperf-local" / "agentperf-default-v1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def start_mock(
    port: int, cpu: int | None, ttft: float, gap: float, nice: int | None = None
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        str(HERE / "mock_stream_server.py"),
        "--port",
        str(port),
        "--ttft",
        str(ttft),
        "--gap",
        str(gap),
        "--jitter",
        str(gap / 10),
    ]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, preexec_fn=priority_setter(nice))
    for _ in range(200):
        try:
            stats(port)
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the mock server did not start")


def stats(port: int, timeout: float = 5.0) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=timeout) as r:
        result: dict[str, Any] = json.loads(r.read())
        return result


def tree(pid: int) -> list[int]:
    """pid and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def cpu_s(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def process_io(pids: list[int]) -> dict[str, int]:
    """Read system calls, bytes read (/proc/PID/io, all threads) and voluntary context switches
    (every thread's) of these processes."""
    out = {"syscr": 0, "rchar": 0, "voluntary_switches": 0}
    for p in pids:
        try:
            io = dict(line.split(": ") for line in Path(f"/proc/{p}/io").read_text().splitlines())
            out["syscr"] += int(io["syscr"])
            out["rchar"] += int(io["rchar"])
            for task in Path(f"/proc/{p}/task").iterdir():
                for line in (task / "status").read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches:"):
                        out["voluntary_switches"] += int(line.split()[1])
        except (OSError, ValueError, KeyError):
            continue
    return out


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total


def write_short_set(folder: Path, output_tokens: int) -> Path:
    """Text trajectories of one short user turn asking `output_tokens`, no tool delay."""
    from agentperf_tui.core.workload.trajectory import Message, TextTurn, TrajectoryHeader, write_trajectory

    for k in range(8):
        header = TrajectoryHeader(format="agentperf-traj/1", id=f"short-{k}", kind="text")
        turns = [
            TextTurn(
                i=i,
                append=[Message(role="user", content=f"Step {i} of task {k}: fix the failing test.")],
                output_tokens=output_tokens,
                tool_delay_s=0.0,
            )
            for i in range(4)
        ]
        write_trajectory(folder / f"short-{k}.jsonl", header, turns)
    return folder


def engine(
    args: argparse.Namespace,
    port: int,
    n: int,
    workers: int,
    trajectories: Path,
    duration: float,
    store: Path,
    extra: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "agentperf_tui",
        "run",
        "--headless",
        "-n",
        str(n),
        "--duration",
        str(duration),
        "--endpoint",
        f"http://127.0.0.1:{port}",
        "--trajectories",
        str(trajectories),
        "--workers",
        str(workers),
        "--telemetry",
        "none",
        "--no-server-metrics",
        "--store",
        str(store),
        "--progress-every",
        "3600",
        *extra,
    ]
    cpu = args.client_cpus
    own_group = priority_setter(args.priority)

    def place() -> None:
        if cpu:
            os.sched_setaffinity(0, cpu)
        if own_group is not None:
            own_group()

    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=place)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End the engine this benchmark started (it stops cleanly on SIGTERM), killing it if it does not."""
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


STATS_WAIT_S = 180.0


def patient_stats(port: int) -> dict[str, Any]:
    """A reading of the server's counters, waiting while thousands of agents connect: its loop may
    be busy, and a connection may wait in its full accept queue (asked again every 15 s, for up to
    STATS_WAIT_S)."""
    end = time.monotonic() + STATS_WAIT_S
    while True:
        try:
            return stats(port, 15.0)
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(1.0)


def wait_streaming(port: int, n: int, timeout: float, read: Callable[[int], dict[str, Any]] = stats) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if read(port)["open"] >= 0.9 * n:
            return
        time.sleep(0.5)


def cpu_run(args: argparse.Namespace, workers: int, folder: Path) -> dict[str, float]:
    port = args.port
    load_before = os.getloadavg()[0]
    mock = start_mock(port, args.server_cpu, 0.1, 0.02, args.priority)
    try:
        proc = engine(
            args,
            port,
            args.concurrency,
            workers,
            folder,
            args.warmup + args.duration + 30,
            folder / f"w{workers}.db",
        )
        try:
            wait_streaming(port, args.concurrency, 60)
            time.sleep(args.warmup)
            pids = tree(proc.pid)
            s0, c0, r0, t0 = stats(port), cpu_s(pids), process_io(pids), time.monotonic()
            time.sleep(args.duration)
            s1, c1, r1, t1 = stats(port), cpu_s(pids), process_io(pids), time.monotonic()
        finally:
            stop(proc)
    finally:
        mock.terminate()
        mock.wait(10)
    tokens = s1["tokens"] - s0["tokens"]
    return {
        "workers": workers,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "tokens_per_s": tokens / (t1 - t0),
        "us_per_token": 1e6 * (c1 - c0) / max(tokens, 1),
        "client_cpu_share": (c1 - c0) / (t1 - t0),
        "server_us_per_token": 1e6 * (s1["cpu"] - s0["cpu"]) / max(tokens, 1),
        "in_flight_ratio": (s1["sample_sum"] - s0["sample_sum"])
        / max(s1["sample_n"] - s0["sample_n"], 1)
        / args.concurrency,
        **stream_shape(s0, s1, r0, r1),
    }


def cmd_cpu(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    try:
        write_short_set(folder, 128)
        rows = []
        for _ in range(args.repeats):
            for k in args.workers:
                rows.append(cpu_run(args, k, folder))
                print(json.dumps(rows[-1]), flush=True)
        base = np.median([r["us_per_token"] for r in rows if r["workers"] == 1])
        print(
            f"\n{args.concurrency} agents, medians over {args.repeats} repeats; 1-minute load average "
            f"{min(r['load_before'] for r in rows):.2f}-{max(r['load_after'] for r in rows):.2f} "
            f"on {os.cpu_count()} CPUs; scheduling: "
            f"{'inherited' if args.priority is None else f'own groups at nice {args.priority}'}"
        )
        head = ("workers", "tok/s", "us/token", "x 1 worker", "server us/tok", "in flight")
        print("".join(f"{h:>{w}}" for h, w in zip(head, (8, 10, 10, 12, 15, 11), strict=True)))
        for k in args.workers:
            sel = [r for r in rows if r["workers"] == k]
            us = float(np.median([r["us_per_token"] for r in sel]))
            print(
                f"{k:>8} {np.median([r['tokens_per_s'] for r in sel]):9.0f} {us:9.1f} {us / base:11.2f} "
                f"{np.median([r['server_us_per_token'] for r in sel]):14.1f} "
                f"{np.median([r['in_flight_ratio'] for r in sel]):10.3f}"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def import_dataset(folder: Path) -> Path:
    from agentperf_tui.core.workload.importers.aa_local import import_aa_local

    if not DATASET.is_dir():
        raise SystemExit(f"{DATASET} not found: the agents benchmark replays its text trajectories")
    out = folder / "aa-default"
    import_aa_local(DATASET / "manifest.json", out)
    return out


def write_every_turn_set(source: Path, out: Path) -> Path:
    """From each text trajectory of `source`, one trajectory per turn k: the conversation as sent
    at turn k, then the turns after it. Agents walk a set from different trajectories, so they
    then hold contexts of every length the recordings reach (from turn 0 only, none would get past
    its first turns during a benchmark at a token every 0.5 s)."""
    from agentperf_tui.core.workload.text_replay import build_text_turn_messages
    from agentperf_tui.core.workload.trajectory import Message, TextTurn, load_set, write_trajectory

    for traj in load_set(source):
        turns = [t for t in traj.turns if isinstance(t, TextTurn)]
        for k, context in enumerate(build_text_turn_messages(turns)):
            first = turns[k].model_copy(update={"i": 0, "append": [Message(**m) for m in context],
                                                "drop_last": 0, "compacted": False})
            rest = [t.model_copy(update={"i": j}) for j, t in enumerate(turns[k + 1 :], start=1)]
            header = traj.header.model_copy(update={"id": f"{traj.id}@{k}"})
            write_trajectory(out / f"{traj.id}@{k}.jsonl", header, [first, *rest])
    return out


AGENTS_GRACE_S = 300.0
"""The engine's --duration beyond the measurement: it is stopped (SIGTERM) once measured."""


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def should_be_open(t_intended: np.ndarray, t_end: np.ndarray, w0: float, w1: float) -> float:
    """Mean number of agents that should have a request open over [w0, w1] of the run clock: each
    request counts from its intended send time to its end (the agent's tool pauses between them
    do not count), whatever became of it."""
    end = np.where(np.isnan(t_end), w1, t_end)
    overlap = np.clip(np.minimum(end, w1) - np.maximum(t_intended, w0), 0.0, None)
    return float(overlap.sum() / (w1 - w0))


def pct_ms(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) * 1e3 if len(x) else float("nan")


def agents_run(args: argparse.Namespace, n: int, folder: Path, trajs: Path) -> dict[str, float]:
    from client_bench import hist_percentile

    from agentperf_tui.core.store import load_run

    port = args.port
    mock = start_mock(port, args.server_cpu, 0.1, args.gap, args.priority)
    store = folder / f"agents-{n}.db"
    proc: subprocess.Popen[bytes] | None = None
    try:
        # No exact-length probe: against a mock streaming a token every 0.5 s it takes minutes;
        # the bodies then lack only `ignore_eos` and `min_tokens`.
        proc = engine(
            args, port, n, args.agent_workers, trajs, args.warmup + args.duration + AGENTS_GRACE_S, store,
            extra=("--no-exact-length",),
        )
        wait_streaming(port, n, 180, patient_stats)
        time.sleep(args.warmup)
        pids = tree(proc.pid)
        load0, s0, c0 = load_average(), patient_stats(port), cpu_s(pids)
        wall0 = time.time() - time.monotonic()
        time.sleep(args.duration)
        s1, c1 = patient_stats(port), cpu_s(pids)
        m0, m1 = s0["now"], s1["now"]  # the window, on the server's clock (CLOCK_MONOTONIC)
        rss, load1 = rss_bytes(pids), load_average()
    finally:
        if proc is not None:
            stop(proc)
        mock.terminate()
        mock.wait(10)
    run = load_run(store, "latest", with_telemetry=False)
    req = run.requests
    w0, w1 = m0 + wall0 - run.info.started_wall, m1 + wall0 - run.info.started_wall
    server_open = (s1["sample_sum"] - s0["sample_sum"]) / max(s1["sample_n"] - s0["sample_n"], 1)
    due = should_be_open(req.t_intended, req.t_end, w0, w1)
    # a request still streaming when the engine was stopped is stored as open at the end: its
    # first token counts as any other
    first = ~np.isnan(req.t_first_token)
    in_window = first & (req.t_intended >= w0) & (req.t_intended < w1)
    ramp = first & (req.t_intended < w0)
    failed = ~req.ok & (req.failure != "open_at_end")
    bias = req.t_first_token - req.t_intended - 0.1
    lag = req.t_sent - req.t_intended
    sent = int(((req.t_sent >= w0) & (req.t_sent < w1)).sum())
    tokens = s1["tokens"] - s0["tokens"]
    late = np.asarray(s1["ttft_late_hist"]) - np.asarray(s0["ttft_late_hist"])
    return {
        "agents": n,
        "load_avg_start": load0,
        "load_avg_end": load1,
        "in_flight_ratio": server_open / n,
        "should_be_open_ratio": due / n,
        "in_flight_of_due": server_open / due if due else float("nan"),
        "ttft_bias_p50_ms": pct_ms(bias[in_window], 50),
        "ttft_bias_p99_ms": pct_ms(bias[in_window], 99),
        "client_lag_p50_ms": pct_ms(lag[in_window], 50),
        "client_lag_p99_ms": pct_ms(lag[in_window], 99),
        "window_requests": float(in_window.sum()),
        "failed_requests": float(failed.sum()),
        "ramp_bias_p50_ms": pct_ms(bias[ramp], 50),
        "ramp_bias_p99_ms": pct_ms(bias[ramp], 99),
        "ramp_requests": float(ramp.sum()),
        "server_loop_lag_p99_ms": hist_percentile(
            np.asarray(s1["lag_hist"]) - np.asarray(s0["lag_hist"]), s1["lag_bin_s"], 99
        )
        * 1e3,
        "server_cpu_share": (s1["cpu"] - s0["cpu"]) / (m1 - m0),
        "server_runq_wait_share": (s1["runq_wait"] - s0["runq_wait"]) / (m1 - m0),
        "server_ttft_late_p50_ms": hist_percentile(late, s1["lag_bin_s"], 50) * 1e3,
        "server_ttft_late_p99_ms": hist_percentile(late, s1["lag_bin_s"], 99) * 1e3,
        "client_cpu_share": (c1 - c0) / (m1 - m0),
        "client_us_per_token": 1e6 * (c1 - c0) / max(tokens, 1),
        "client_ms_per_request": 1e3 * (c1 - c0) / max(sent, 1),
        "rss_mb": rss / 2**20,
    }


def cmd_agents(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    try:
        trajs = import_dataset(folder)
        if not args.from_first_turn:
            trajs = write_every_turn_set(trajs, folder / "every-turn")
        small = agents_run(args, args.baseline_agents, folder, trajs)
        print(json.dumps(small), flush=True)
        big = agents_run(args, args.agents, folder, trajs)
        print(json.dumps(big), flush=True)
        per_agent = (big["rss_mb"] - small["rss_mb"]) * 2**20 / (args.agents - args.baseline_agents)
        print(
            f"\n{args.agents} agents, {args.agent_workers} worker(s), load average "
            f"{big['load_avg_start']:.1f}-{big['load_avg_end']:.1f}:\n"
            f"  in flight at the server / agents due a request {big['in_flight_of_due']:.3f} "
            "(target >= 0.97); "
            f"in flight / N {big['in_flight_ratio']:.3f}, due / N {big['should_be_open_ratio']:.3f}\n"
            f"  TTFT bias of requests sent in the window p50 {big['ttft_bias_p50_ms']:.1f} ms "
            f"p99 {big['ttft_bias_p99_ms']:.1f} ms (target p99 < 50; {big['window_requests']:.0f} requests, "
            f"{big['failed_requests']:.0f} failed in the run; "
            f"client lag p99 {big['client_lag_p99_ms']:.1f} ms, server loop lag p99 "
            f"{big['server_loop_lag_p99_ms']:.1f} ms, server's own first-token lateness p50 "
            f"{big['server_ttft_late_p50_ms']:.1f} p99 {big['server_ttft_late_p99_ms']:.1f} ms); "
            f"server CPU {big['server_cpu_share']:.2f} cores, waiting for a CPU "
            f"{big['server_runq_wait_share']:.0%} of the time; joining agents' first requests p50 "
            f"{big['ramp_bias_p50_ms']:.1f} ms p99 {big['ramp_bias_p99_ms']:.1f} ms\n"
            f"  client CPU {big['client_cpu_share']:.2f} cores, "
            f"{big['client_us_per_token']:.0f} us per token, "
            f"{big['client_ms_per_request']:.2f} ms per request sent\n"
            f"  memory {per_agent / 1024:.1f} KB per agent beyond {args.baseline_agents} agents "
            "(target <= 64), "
            f"engine tree RSS {big['rss_mb']:.0f} MB"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def own_rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE


def cmd_worker(args: argparse.Namespace) -> None:
    """One load worker in this process, as a worker process runs it, with --worker-agents agents."""
    import asyncio
    import gc
    import pickle

    from agentperf_tui.core.client.request import EXACT_FIELDS
    from agentperf_tui.core.engine.config import RunConfig
    from agentperf_tui.core.engine.protocol import Poll, SetShare, StartWorker, StopWorker, WorkerSpec
    from agentperf_tui.core.engine.worker import Worker
    from agentperf_tui.core.workload.trajectory import load_set

    n = args.worker_agents
    folder = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    if args.client_cpus:
        os.sched_setaffinity(0, args.client_cpus)
    mock = start_mock(args.port, args.server_cpu, 0.1, args.gap)
    worker = Worker()
    try:
        trajs = import_dataset(folder)
        if not args.from_first_turn:
            trajs = write_every_turn_set(trajs, folder / "every-turn")
        spec = WorkerSpec(
            index=0, count=1, base_url=f"http://127.0.0.1:{args.port}", api_key=None, api="chat",
            model="mock", exact=True, exact_fields=EXACT_FIELDS, trajectories=tuple(load_set(trajs)),
            calibration=None, seed=1, tool_delay="recorded", think_time=False,
            limits=RunConfig().request_limits(), backend="httptools", max_connections=2 * n, clock_zero=None,
        )  # fmt: skip
        worker.handle(StartWorker(spec))
        rss0 = own_rss()
        window = {"on": False}
        lags: list[float] = []
        pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        started: dict[str, float] = {}

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started["t"] = time.perf_counter()
            elif window["on"]:
                pauses[info["generation"]].append(time.perf_counter() - started["t"])

        async def lag_sampler(period: float = 0.01) -> None:
            loop = asyncio.get_running_loop()
            while True:
                due = loop.time() + period
                await asyncio.sleep(period)
                if window["on"]:
                    lags.append(loop.time() - due)

        gc.callbacks.append(on_gc)
        loop = worker._loop  # the worker's own event loop: the lag is measured on it
        assert loop is not None
        sampler = asyncio.run_coroutine_threadsafe(lag_sampler(), loop)
        worker.handle(SetShare(n, min(10.0, 0.1 * n)))
        polls: list[tuple[float, float, int]] = []
        end_warmup, end = None, None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            time.sleep(0.25)  # the coordinator polls four times a second
            wall, cpu = time.perf_counter(), time.thread_time()
            reply = worker.handle(Poll())
            size = len(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            now = time.monotonic()
            if end_warmup is None and patient_stats(args.port)["open"] >= 0.9 * n:
                end_warmup = now + args.warmup
            if end_warmup is not None and now >= end_warmup:
                if end is None:
                    end, window["on"] = now + args.duration, True
                    load0, tracked0 = load_average(), len(gc.get_objects())
                polls.append((wall, cpu, size))
                if now >= end:
                    break
        window["on"] = False
        sampler.cancel()
        rss, tracked = own_rss(), len(gc.get_objects())
        load1 = load_average()
    finally:
        worker.handle(StopWorker())
        mock.terminate()
        mock.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    if end is None:
        raise SystemExit("the agents did not all start streaming within 180 s")
    lag = np.array(lags)
    wall_ms = np.array([p[0] for p in polls]) * 1e3
    cpu_ms = np.array([p[1] for p in polls]) * 1e3
    sizes = np.array([p[2] for p in polls])
    print(json.dumps({
        "agents": n, "load_avg_start": load0, "load_avg_end": load1,
        "loop_lag_p50_ms": pct_ms(lag, 50), "loop_lag_p99_ms": pct_ms(lag, 99),
        "loop_lag_max_ms": lag.max() * 1e3,
        "poll_cpu_p50_ms": float(np.median(cpu_ms)), "poll_cpu_max_ms": float(cpu_ms.max()),
        "poll_wall_p50_ms": float(np.median(wall_ms)), "poll_wall_max_ms": float(wall_ms.max()),
        "poll_kb": float(np.median(sizes)) / 1024,
        "gc_collections": [len(pauses[g]) for g in (0, 1, 2)],
        "gc_pause_max_ms": max((max(v) for v in pauses.values() if v), default=0.0) * 1e3,
        "tracked_objects_per_agent": (tracked0 + tracked) / 2 / n,
        "rss_kb_per_agent": (rss - rss0) / n / 1024,
    }), flush=True)  # fmt: skip
    print(
        f"\none worker, {n} agents, load average {load0:.1f}-{load1:.1f}: loop lag p50 {pct_ms(lag, 50):.1f} "
        f"p99 {pct_ms(lag, 99):.1f} max {lag.max() * 1e3:.1f} ms; a poll {np.median(cpu_ms):.1f} ms of CPU "
        f"(max {cpu_ms.max():.1f}), {np.median(sizes) / 1024:.0f} KB; collections (young, middle, full) "
        f"{[len(pauses[g]) for g in (0, 1, 2)]} in {args.duration:.0f} s; memory "
        f"{(rss - rss0) / n / 1024:.1f} KB per agent"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["cpu", "agents", "worker"])
    p.add_argument("--port", type=int, default=18777)
    p.add_argument("--server-cpu", type=int, default=1)
    p.add_argument(
        "--client-cpus", type=int, nargs="*", default=[0], help="CPUs for the engine and its workers"
    )
    p.add_argument("--concurrency", type=int, default=512)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--warmup", type=float, default=8.0)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--agents", type=int, default=4096)
    p.add_argument("--baseline-agents", type=int, default=256)
    p.add_argument("--agent-workers", type=int, default=1)
    p.add_argument("--worker-agents", type=int, default=2048, help="worker: agents of the one worker")
    p.add_argument("--gap", type=float, default=0.5, help="agents: seconds between tokens of the slow mock")
    p.add_argument(
        "--from-first-turn",
        action="store_true",
        help="agents: replay the recordings from their first turn only (by default agents start at "
        "every turn of them, so their contexts have every length the recordings reach)",
    )
    p.add_argument(
        "--priority",
        type=int,
        default=None,
        metavar="NICE",
        help="start the mock and the engine in their own scheduling groups at this nice value (busy machine)",
    )
    args = p.parse_args()
    {"cpu": cmd_cpu, "agents": cmd_agents, "worker": cmd_worker}[args.what](args)


if __name__ == "__main__":
    main()
