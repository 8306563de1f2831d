"""The virtual clock and the real-clock HTTP server agree on the same small closed-loop workload.

Four agents replay the same three-turn conversation (each with its own prefix marker) for six
seconds: once as VirtualLoad on simulated time, once as real HTTP streams against the
embedded simulator, with the same staggered start and tool delay. Tolerance: per-agent mean
TTFT within 50 ms or 25 %, mean output speed within 8 %, and the same number of finished
requests within one per agent. The real clock adds loopback HTTP, SSE parsing and timer
granularity (about a millisecond each), and an arrival that slips past a step boundary waits
one more step (~20 ms here), which is what the TTFT allowance covers. A run in which the host
starved the simulator (tokens delivered over 30 ms after their modelled time) is repeated, up to
three times, and the test skips, saying so, if the host never let it keep up.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx
import orjson
import pytest

from agentperf_tui.core.simulator.embedded import EmbeddedSimulator
from agentperf_tui.core.simulator.tokenizer import count_chat
from agentperf_tui.core.simulator.virtual import VirtualLoad
from agentperf_tui.core.workload.trajectory import TokenTurn, Trajectory, TrajectoryHeader

AGENTS = 4
TURNS = 3
OUT = 40
DELAY = 0.3
SPREAD = 1.0
DURATION = 6.0
MAX_DELIVERY_LAG_S = 0.03
"""A real-clock run counts only if the simulator's event loop kept up with its own model."""


def _conversation(marker: str) -> list[list[dict[str, Any]]]:
    """The message list sent at each turn (the previous prompt is a prefix of the next)."""
    msgs: list[dict[str, Any]] = [{"role": "system", "content": marker + " you are a coding agent " * 200}]
    prompts = []
    for k in range(TURNS):
        msgs.append({"role": "user", "content": f"tool output {k} " + "line of output " * 120})
        prompts.append(list(msgs))
        msgs.append({"role": "assistant", "content": "recorded reply " * 30})
    return prompts


def _marker(agent: int, replay: int) -> str:
    return f"agent-{agent:03d}-replay-{replay:03d}"


def _trajectory() -> Trajectory:
    prompts = [count_chat(m) for m in _conversation(_marker(0, 0))]
    turns = [TokenTurn(i=k, new_input_tokens=prompts[k] - (prompts[k - 1] if k else 0),
                       cached_prefix_tokens=prompts[k - 1] if k else 0, output_tokens=OUT, tool_delay_s=DELAY)
             for k in range(TURNS)]
    return Trajectory(header=TrajectoryHeader(format="agentperf-traj/1", id="agree", kind="tokens"),
                      turns=tuple(turns))


Row = tuple[int, int, int, float, float]  # agent, replay, turn, ttft, speed


def _virtual(sim: EmbeddedSimulator) -> list[Row]:
    vl = VirtualLoad(sim.deployment, [_trajectory()], seed=0, join_spread_s=SPREAD)
    vl.set_concurrency(AGENTS)
    return [(r.agent_id, r.replay, r.turn, r.ttft, r.output_speed) for r in vl.advance(DURATION)]


async def _real(sim: EmbeddedSimulator) -> list[Row]:
    rows: list[Row] = []
    limits = httpx.Limits(max_connections=AGENTS * 2)
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=30.0, limits=limits) as client:
        # open the connections first: connection setup is client lag, not server time
        await asyncio.gather(*(client.get("/v1/models") for _ in range(AGENTS)))
        t0 = time.perf_counter()
        end = t0 + DURATION

        async def agent(a: int) -> None:
            t_intended = t0 + SPREAD * a / AGENTS
            replay = 0
            while True:
                for k, msgs in enumerate(_conversation(_marker(a, replay))):
                    await asyncio.sleep(max(0.0, t_intended - time.perf_counter()))
                    body = {"model": sim.model_name, "messages": msgs, "max_tokens": OUT, "ignore_eos": True,
                            "stream": True, "stream_options": {"include_usage": True}}
                    times: list[float] = []
                    async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                        async for line in r.aiter_lines():
                            if not line.startswith("data: {"):
                                continue
                            ev = orjson.loads(line[6:])
                            if ev["choices"] and ev["choices"][0]["delta"].get("content"):
                                times.append(time.perf_counter())
                    t_first, t_last = times[0], times[-1]
                    if t_last <= end:
                        speed = (len(times) - 1) / (t_last - t_first)
                        rows.append((a, replay, k, t_first - t_intended, speed))
                    if t_last > end:
                        return
                    t_intended = t_last + (DELAY if k + 1 < TURNS else 0.0)
                replay += 1

        await asyncio.gather(*(agent(a) for a in range(AGENTS)))
    return rows


def test_virtual_and_real_clock_agree_on_a_small_fixed_workload() -> None:
    lags = []
    for _attempt in range(3):
        with EmbeddedSimulator(seed=0) as sim:
            real = asyncio.run(_real(sim))
            virtual = _virtual(sim)
            lag = sim.server.lag_max
        if lag <= MAX_DELIVERY_LAG_S:
            break
        lags.append(lag)
    else:
        pytest.skip(f"host too busy for a real-clock comparison: the simulator delivered tokens up to "
                    f"{max(lags) * 1e3:.0f} ms late in each of 3 attempts")
    assert len(virtual) >= AGENTS * TURNS
    assert abs(len(real) - len(virtual)) <= AGENTS
    for a in range(AGENTS):
        rv = [r for r in real if r[0] == a]
        vv = [r for r in virtual if r[0] == a]
        assert rv and vv
        ttft_r = statistics.mean(r[3] for r in rv)
        ttft_v = statistics.mean(r[3] for r in vv)
        assert abs(ttft_r - ttft_v) <= max(0.05, 0.25 * ttft_v), (a, ttft_r, ttft_v)
        speed_r = statistics.mean(r[4] for r in rv)
        speed_v = statistics.mean(r[4] for r in vv)
        assert abs(speed_r - speed_v) <= 0.08 * speed_v, (a, speed_r, speed_v)
