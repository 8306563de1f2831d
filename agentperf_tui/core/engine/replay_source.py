"""The requests of one replay of one trajectory, linear or a tree, built when they are sent.

Text trajectories take every turn's messages from the recording; those conversations are built
once per load and shared by every agent (the body puts each replay's dynamic prefix in front), so
an agent holds no copy of its context. A linear token-only trajectory's turns are generated one
after another, as its conversation grows; a token-only tree builds each prompt from its block
hashes (recorded, or implied by the token counts), so content shared inside the tree is the same
text and a server sees the prefix-cache hits the recording implies. The dynamic prefix starts
every prompt of the replay.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from agentperf_tui.core.engine.conversation import TurnRequest, token_turns
from agentperf_tui.core.workload.block_filler import block_messages
from agentperf_tui.core.workload.filler import Calibration
from agentperf_tui.core.workload.text_replay import ChatMessage, tools_for_turn, tree_text_messages
from agentperf_tui.core.workload.trajectory import TextTurn, Trajectory
from agentperf_tui.core.workload.tree import Node, tree_of
from agentperf_tui.core.workload.tree_plan import TreePlan, plan_tree


@dataclass
class Shapes:
    """Each trajectory's tree and, for token-only trees, its request plan, for text trajectories
    every turn's conversation: built once per set, shared by the agents."""

    trees: dict[str, Node] = field(default_factory=dict)
    plans: dict[str, TreePlan] = field(default_factory=dict)
    texts: dict[str, dict[str, list[list[ChatMessage]]]] = field(default_factory=dict)

    def tree(self, traj: Trajectory) -> Node:
        node = self.trees.get(traj.id)
        if node is None:
            node = self.trees[traj.id] = tree_of(traj)
        return node

    def plan(self, traj: Trajectory) -> TreePlan:
        plan = self.plans.get(traj.id)
        if plan is None:
            plan = self.plans[traj.id] = plan_tree(traj)
        return plan

    def prepare(self, traj: Trajectory) -> None:
        """Build what replays of `traj` will need, now."""
        self.tree(traj)
        if traj.kind == "text":
            self.text(traj)
        elif traj.is_tree:
            self.plan(traj)

    def text(self, traj: Trajectory) -> dict[str, list[list[ChatMessage]]]:
        """The messages of every turn of every node, without a dynamic prefix."""
        sent = self.texts.get(traj.id)
        if sent is None:
            sent = self.texts[traj.id] = tree_text_messages(traj)
        return sent


class ReplaySource:
    def __init__(
        self, traj: Trajectory, prefix: str, calibration: Calibration | None, seed: int, shapes: Shapes
    ) -> None:
        self.traj = traj
        self.shapes = shapes
        self.prefix = prefix
        self.calibration = calibration
        self._linear: Iterator[TurnRequest] | None = None
        self._text: dict[str, list[list[ChatMessage]]] | None = None
        if traj.kind == "text":
            self._text = shapes.text(traj)
        elif calibration is None:
            raise ValueError("token-only trajectories need a filler calibration against the server")
        elif not traj.is_tree:
            self._linear = token_turns(traj, prefix, calibration, seed)

    def request(self, node: Node, turn: int) -> TurnRequest:
        """The request for `turn` of `node` (a linear trajectory's turns come in order)."""
        if self._linear is not None:
            req = next(self._linear)
            if req.turn != node.turns[turn].i:
                raise RuntimeError(f"{self.traj.id}: turn {turn} asked out of order")
            return req
        t = node.turns[turn]
        if self._text is not None:
            assert isinstance(t, TextTurn)
            return TurnRequest(
                turn=t.i,
                messages=self._text[node.id][turn],
                tools=tools_for_turn(self.traj.header, t),
                output_tokens=t.output_tokens,
                tool_delay_s=t.tool_delay_s,
                think_time_s=t.think_time_s,
                prefix=self.prefix,
            )
        assert self.calibration is not None
        plan = self.shapes.plan(self.traj)
        planned = plan.requests(node.id)[turn]
        scope = self.traj.header.hash_scope
        messages = block_messages(
            planned.block_hashes,
            planned.prompt_tokens,
            block_size=plan.block_size,
            calibration=self.calibration,
            prefix=self.prefix,
            namespace=self.traj.id if scope == "trajectory" else "",
        )
        return TurnRequest(
            turn=t.i,
            messages=messages,
            tools=None,
            output_tokens=planned.output_tokens,
            tool_delay_s=t.tool_delay_s,
            think_time_s=t.think_time_s,
        )
