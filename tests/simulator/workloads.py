"""Small trajectories and helpers shared by the simulator tests."""

from __future__ import annotations

from agentperf_tui.core.simulator.recipes import load_recipe
from agentperf_tui.core.simulator.shapes import Shape, candidate_shapes
from agentperf_tui.core.workload.trajectory import (
    Subagent,
    SubagentSpec,
    TextTurn,
    TokenTurn,
    Trajectory,
    TrajectoryHeader,
)


def small_rack_shape() -> Shape:
    """A small disaggregated DeepSeek-V4-Pro shape on 24 GB300 GPUs: 4 x DEP4 prefill + 1 x DEP8
    decode (512 decode slots), the rack-scale engine at a size a test runs in a second."""
    shapes = candidate_shapes(load_recipe("deepseek-v4-pro", "gb300-nvl72"), 24,
                              shape_names=["disagg-dep8-dep16-mtp"])
    return min(shapes, key=lambda s: (s.decode_gpus, -s.prefill_instances))


def token_trajectory(tid: str, turns: int = 4, first: int = 2000, new: int = 300, out: int = 100,
                     delay: float = 0.5) -> Trajectory:
    """A growing conversation: turn k sends the whole previous context plus `new` tokens."""
    ts: list[TokenTurn] = []
    ctx = 0
    for k in range(turns):
        if k == 0:
            t = TokenTurn(i=0, new_input_tokens=first, output_tokens=out, tool_delay_s=delay)
        else:
            t = TokenTurn(i=k, new_input_tokens=new, cached_prefix_tokens=ctx, output_tokens=out,
                          tool_delay_s=delay)
        ts.append(t)
        ctx = t.prompt_tokens + out
    header = TrajectoryHeader(format="agentperf-traj/1", id=tid, kind="tokens")
    return Trajectory(header=header, turns=tuple(ts))


def text_trajectory(tid: str, turns: int = 3, out: int = 20, delay: float = 0.1) -> Trajectory:
    ts: list[TextTurn] = []
    for k in range(turns):
        append: list[dict[str, str]] = []
        if k == 0:
            append.append({"role": "system", "content": "You are a coding agent. " * 20})
            append.append({"role": "user", "content": "Fix the failing test in utils.py. " * 10})
        else:
            append.append({"role": "assistant", "content": f"Running the tests, step {k}. " * 5})
            append.append({"role": "tool", "content": "ok\n" * 200, "tool_call_id": f"c{k}"})
        ts.append(TextTurn.model_validate({"i": k, "append": append, "output_tokens": out,
                                           "tool_delay_s": delay}))
    header = TrajectoryHeader(format="agentperf-traj/1", id=tid, kind="text")
    return Trajectory(header=header, turns=tuple(ts))


def tree_trajectory(tid: str, *, context: str = "parent", offset: float = 0.2, delay: float = 0.1,
                    out: int = 12) -> Trajectory:
    """A main agent of 3 turns whose first reply forks two helpers (joined before turn 1, starting
    `offset` s after the reply, from `context`) and whose second reply starts one detached helper
    with a fresh context."""

    def turn(i: int, new: int, prev: int = 0) -> TokenTurn:
        return TokenTurn(i=i, new_input_tokens=new, cached_prefix_tokens=prev, output_tokens=out,
                         tool_delay_s=delay)

    helpers = [
        Subagent(
            spec=SubagentSpec.model_validate({"node": name, "at_turn": 0, "context": context,
                                              "start_offset_s": offset, "result_tokens": 60}),
            turns=(turn(0, 900, 2000), turn(1, 400, 2900 + out)),
        )
        for name in ("explore", "tests")
    ]
    lint = Subagent(spec=SubagentSpec(node="lint", at_turn=1, join="detach", context="none"),
                    turns=(turn(0, 1500),))
    header = TrajectoryHeader(format="agentperf-traj/2", id=tid, kind="tokens")
    root = (turn(0, 2000), turn(1, 600, 2000 + out), turn(2, 300, 2600 + 2 * out))
    return Trajectory(header=header, turns=root, subagents=(*helpers, lint))
