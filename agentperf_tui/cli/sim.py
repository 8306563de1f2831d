"""`agentperf-tui sim`: run the simulated inference server on its own (foreground, Ctrl-C stops)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agentperf_tui.core import defaults
from agentperf_tui.core.simulator.embedded import new_event_loop
from agentperf_tui.core.simulator.profiles import (
    ProfileError,
    list_profiles,
    load_deployment,
    load_hardware,
    load_model,
)
from agentperf_tui.core.simulator.server import SimServer


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sim",
        help="run the simulated OpenAI-compatible server (a modelled GPU deployment; figures simulated)",
        description="Serve a SIMULATED GPU deployment on an OpenAI-compatible HTTP endpoint. Timing comes "
        "from a model of a serving engine (continuous batching, chunked prefill, paged KV cache with prefix "
        "caching) on the chosen hardware and model profiles. See docs/simulator.md.",
    )
    p.add_argument("--hardware", default=defaults.SIM_HARDWARE,
                   help=f"hardware profile name or .toml path (default {defaults.SIM_HARDWARE})")
    p.add_argument("--sim-model", dest="sim_model", default=defaults.SIM_MODEL,
                   help=f"model profile name or .toml path (default {defaults.SIM_MODEL}); the server "
                   "serves it as sim-NAME")
    p.add_argument("--replicas", type=int, default=None, help="number of replicas (default 1)")
    p.add_argument("--gpus-per-replica", type=int, default=None,
                   help="GPUs per replica (default: the smallest power of two that holds the weights)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--seed", type=int, default=0, help="seed of the EOS model")
    p.add_argument("--list", action="store_true", help="list the hardware and model profiles and exit")
    p.set_defaults(func=run)


def _list() -> int:
    print("hardware profiles:")
    for name in list_profiles("hardware"):
        try:
            h = load_hardware(name)
        except ProfileError as e:
            print(f"  {name:14s} INVALID: {e}")
            continue
        fp4 = f", FP4 {h.fp4_dense_tflops:g}" if h.fp4_dense_tflops else ""
        print(f"  {name:14s} {h.display_name}: {h.hbm_gb:g} GB at {h.hbm_bandwidth_tbs:g} TB/s, "
              f"FP8 {h.fp8_dense_tflops:g}{fp4} TFLOPS dense, {h.idle_w:g}-{h.tdp_w:g} W, "
              f"{h.gpus_per_node} GPUs per system")
    print("model profiles:")
    for name in list_profiles("models"):
        try:
            m = load_model(name)
        except ProfileError as e:
            print(f"  {name:16s} INVALID: {e}")
            continue
        print(f"  {name:16s} {m.display_name}: {m.total_params_b:g}B total / {m.active_params_b:g}B active, "
              f"{m.weight_bytes / 1e9:.0f} GB weights, {m.kv_bytes_per_token:,} KV bytes/token, "
              f"context {m.max_model_len:,}")
    return 0


def run(args: argparse.Namespace) -> int:
    from aiohttp import web

    if args.list:
        return _list()
    try:
        dep = load_deployment(args.hardware, args.sim_model, replicas=args.replicas,
                              gpus_per_replica=args.gpus_per_replica)
    except ProfileError as e:
        print(f"agentperf-tui sim: {e}", file=sys.stderr)
        return 2
    server = SimServer(dep, seed=args.seed)
    print(f"SIMULATED inference server: {dep.describe()}")
    print(f"model id {server.model_name!r}; OpenAI API under /v1, Prometheus metrics at /metrics")
    print("every figure it produces is modelled, not measured.", flush=True)

    def announce(msg: str) -> None:  # aiohttp's "Running on http://HOST:PORT" with the real port
        print(msg, flush=True)

    try:
        web.run_app(server.app(), host=args.host, port=args.port, access_log=None, print=announce,
                    loop=new_event_loop(), shutdown_timeout=1.0)
    except OSError as e:
        print(f"agentperf-tui sim: cannot listen on {args.host}:{args.port}: {e.strerror or e}",
              file=sys.stderr)
        return 1
    return 0
