"""How long `agentperf-tui plan` takes: the whole command, shape search included.

    python benchmarks/plan_bench.py                      # GB300 NVL72 (72 GPUs) and H200 (8 GPUs)
    python benchmarks/plan_bench.py --tier 100/5 --cases gb300
    python benchmarks/plan_bench.py --cases gb300 --max 4096  # an explicit largest N

Runs the command as a user would (a fresh process each time, DeepSeek-V4-Pro, the default
trajectories, the AgentPerf baseline tool delays) and prints, per case, the wall time of the
whole command, the CPU time of it and its worker processes, the machine's load average over the
last minute when it started and when it ended (other work on a shared machine stretches both
times), the simulated N* with its shape, and the virtual time the winner's search covered. By
default each plan searches up to its own largest N (`plan`'s default); `--max` sets one. The
target: a 72-GPU plan with thousands of agents in under 30 s of wall time on an otherwise idle
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "gb300": ("gb300-nvl72", 72),
    "h200": ("h200-sxm", 8),
}


def run(hardware: str, gpus: int, tier: str, trajectories: str, max_n: int | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "plan.json"
        cmd = [
            sys.executable, "-m", "agentperf_tui", "plan",
            "--hardware", hardware, "--sim-model", "deepseek-v4-pro", "--gpus", str(gpus),
            "--tier", tier, "--trajectories", trajectories, "--tool-delay", "baseline", "--out", str(out),
            *(["--max", str(max_n)] if max_n is not None else []),
        ]
        load0 = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"plan failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        summary = json.loads(out.read_text())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    plan = summary.get("plan") or {}
    shape = plan.get("shape") or {}
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "n_star": summary["results"][0]["n_star"],
        "shape": shape.get("summary", summary.get("simulator")),
        "virtual_s": summary["duration_s"],
        "load0": load0,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tier", default="deepseek-v4-pro@2026-06/30-10")
    ap.add_argument("--cases", default="gb300,h200", help="comma-separated: " + ", ".join(CASES))
    ap.add_argument("--trajectories", default="trajectories/default")
    ap.add_argument("--max", type=int, dest="max_n", help="largest N to try (plan's --max; default: its own)")
    args = ap.parse_args()
    print(f"{'case':6} {'wall s':>7} {'cpu s':>7} {'load':>9} {'N*':>6} {'virtual s':>9}  "
          "shape (all SIMULATED)")
    for name in args.cases.split(","):
        hardware, gpus = CASES[name]
        r = run(hardware, gpus, args.tier, args.trajectories, args.max_n)
        print(
            f"{name:6} {r['wall_s']:7.1f} {r['cpu_s']:7.1f} {r['load0']:4.1f}/{r['load']:4.1f} "
            f"{r['n_star']:>6} {r['virtual_s']:9.0f}  {r['shape']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
