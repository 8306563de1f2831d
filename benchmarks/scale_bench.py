"""What scaling the load out costs and how many agents one machine drives, measured on the real
engine (`run --headless`) against benchmarks/mock_stream_server.py.

  python benchmarks/scale_bench.py cpu      # client CPU per streamed token: --workers 1 vs 2 (and more)
  python benchmarks/scale_bench.py agents   # 4,096 agents against a slow-stream mock: in flight,
                                            # TTFT bias, memory per agent

cpu: a closed loop of C agents (default 512), each turn asking 128 tokens of a short prompt with
no tool delay, the mock server pinned to one CPU (128-token streams, first token 100 ms after the
request, then one every 20 ms), the engine and its workers pinned to another. Over a window after
the warm-up: tokens the server sent, and the CPU of the engine process and its worker processes
(/proc), so us/token counts everything the tool spends per token: streaming, parsing, statistics,
the store.

agents: N agents (default 4,096) replaying real text trajectories (AA agentperf-local, imported
into a temporary folder from ../shared/datasets) against a mock that streams a token every 0.5 s,
so each stream lasts minutes and the server keeps up. Reported: the server's mean open streams /
N (in flight), TTFT bias p50/p99 (engine TTFT minus the mock's 100 ms), and the engine tree's
resident memory per agent (RSS at N minus RSS at 256 agents, over the difference).
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


def stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=30) as r:
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


def wait_streaming(port: int, n: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if stats(port)["open"] >= 0.9 * n:
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


def agents_run(args: argparse.Namespace, n: int, folder: Path, trajs: Path) -> dict[str, float]:
    from agentperf_tui.core.store import load_run

    port = args.port
    mock = start_mock(port, args.server_cpu, 0.1, args.gap, args.priority)
    store = folder / f"agents-{n}.db"
    try:
        proc = engine(args, port, n, args.agent_workers, trajs, args.warmup + args.duration + 10, store)
        try:
            wait_streaming(port, n, 120)
            time.sleep(args.warmup)
            pids = tree(proc.pid)
            s0 = stats(port)
            time.sleep(args.duration)
            s1 = stats(port)
            rss = rss_bytes(pids)
            proc.wait(args.duration + 120)
        finally:
            if proc.poll() is None:
                stop(proc)
    finally:
        mock.terminate()
        mock.wait(10)
    req = load_run(store, "latest", with_telemetry=False).requests
    ok = req.select(req.ok)
    bias = (ok.t_first_token - ok.t_intended) - 0.1
    return {
        "agents": n,
        "in_flight_ratio": (s1["sample_sum"] - s0["sample_sum"])
        / max(s1["sample_n"] - s0["sample_n"], 1)
        / n,
        "ttft_bias_p50_ms": float(np.percentile(bias, 50)) * 1e3 if len(ok) else float("nan"),
        "ttft_bias_p99_ms": float(np.percentile(bias, 99)) * 1e3 if len(ok) else float("nan"),
        "requests": float(len(ok)),
        "rss_mb": rss / 2**20,
    }


def cmd_agents(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    try:
        trajs = import_dataset(folder)
        small = agents_run(args, args.baseline_agents, folder, trajs)
        print(json.dumps(small), flush=True)
        big = agents_run(args, args.agents, folder, trajs)
        print(json.dumps(big), flush=True)
        per_agent = (big["rss_mb"] - small["rss_mb"]) * 2**20 / (args.agents - args.baseline_agents)
        print(
            f"\n{args.agents} agents, {args.agent_workers} worker(s): in flight {big['in_flight_ratio']:.3f} "
            f"(target >= 0.97), TTFT bias p50 {big['ttft_bias_p50_ms']:.1f} ms "
            f"p99 {big['ttft_bias_p99_ms']:.1f} ms (target p99 < 50), memory {per_agent / 1024:.1f} KB "
            f"per agent beyond {args.baseline_agents} agents (target <= 64), "
            f"engine tree RSS {big['rss_mb']:.0f} MB"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["cpu", "agents"])
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
    p.add_argument("--gap", type=float, default=0.5, help="agents: seconds between tokens of the slow mock")
    p.add_argument(
        "--priority",
        type=int,
        default=None,
        metavar="NICE",
        help="start the mock and the engine in their own scheduling groups at this nice value (busy machine)",
    )
    args = p.parse_args()
    (cmd_cpu if args.what == "cpu" else cmd_agents)(args)


if __name__ == "__main__":
    main()
