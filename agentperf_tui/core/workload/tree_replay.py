"""The schedule of one tree replay as a state machine: no clock, no I/O.

A driver (the load generator on the wall clock, a simulator on a virtual one) tells it when the
replay starts and when each reply ends; it answers with the requests that become due and when.
The rules (docs/trajectory-format.md, "Replaying a tree"):
- the main agent's turn 0 is due at the start; a sub-agent's turn 0 is due `start_offset_s`
  after the reply that spawned it ended;
- a turn is complete when its reply has ended and every sub-agent that joins before the next
  turn has finished; the next turn is due `tool_delay_s` (or the driver's own draw) after that,
  plus its `think_time_s` when think time is replayed;
- a node has finished when its last turn is complete (sub-agents joining at its end included);
  the tree when every node has, detached ones included.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .tree import Fork, Node

ToolDelayFn = Callable[[Node, int], float]


@dataclass(frozen=True, slots=True)
class Due:
    """A request that may be sent: node, turn, and the time it is due (the intended send time)."""

    node: Node
    turn: int
    at: float


def recorded_tool_delay(node: Node, k: int) -> float:
    return node.turns[k].tool_delay_s


@dataclass(slots=True)
class _NodeState:
    reply_end: float | None = None
    waiting_turn: int | None = None
    """The turn whose reply ended but that waits for sub-agents to finish."""
    finished: float | None = None


@dataclass(slots=True)
class _ForkState:
    left: int
    end: float = 0.0


@dataclass
class TreeReplay:
    root: Node
    think_time: bool = False
    tool_delay: ToolDelayFn = recorded_tool_delay
    _nodes: dict[str, _NodeState] = field(default_factory=dict, init=False)
    _forks: dict[int, _ForkState] = field(default_factory=dict, init=False)
    _fork_of: dict[str, Fork] = field(default_factory=dict, init=False)
    _parent: dict[str, Node] = field(default_factory=dict, init=False)
    _by_id: dict[str, Node] = field(default_factory=dict, init=False)
    _unfinished: int = field(default=0, init=False)
    finished_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        for node in self.root.walk():
            self._by_id[node.id] = node
            self._nodes[node.id] = _NodeState()
            for f in node.forks:
                self._forks[id(f)] = _ForkState(left=len(f.children))
                for c in f.children:
                    self._fork_of[c.id] = f
                    self._parent[c.id] = node
        self._unfinished = len(self._nodes)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def _first(self, node: Node, t: float) -> Due:
        think = node.turns[0].think_time_s if self.think_time else 0.0
        return Due(node, 0, t + node.start_offset_s + think)

    def start(self, t: float) -> list[Due]:
        """The replay starts at t: the main agent's first turn is due."""
        return [self._first(self.root, t)]

    def reply_done(self, node_id: str, turn: int, t: float) -> list[Due]:
        """The reply to `turn` of `node_id` ended at t (a failed request ends it too)."""
        node = self._by_id[node_id]
        state = self._nodes[node_id]
        state.reply_end = t
        out = [self._first(c, t) for f in node.forks_after(turn) for c in f.children]
        state.waiting_turn = turn
        out += self._advance(node)
        return out

    def _advance(self, node: Node) -> list[Due]:
        """Move `node` on if its waiting turn is complete."""
        state = self._nodes[node.id]
        k = state.waiting_turn
        if k is None or state.reply_end is None:
            return []
        joins = node.joins_before(k + 1)
        if any(self._forks[id(f)].left for f in joins):
            return []
        complete = max([state.reply_end, *(self._forks[id(f)].end for f in joins)])
        state.waiting_turn = None
        if k + 1 < len(node.turns):
            think = node.turns[k + 1].think_time_s if self.think_time else 0.0
            return [Due(node, k + 1, complete + self.tool_delay(node, k) + think)]
        return self._finish(node, complete)

    def _finish(self, node: Node, t: float) -> list[Due]:
        self._nodes[node.id].finished = t
        self._unfinished -= 1
        if not self._unfinished:
            self.finished_at = max(s.finished or 0.0 for s in self._nodes.values())
        fork = self._fork_of.get(node.id)
        if fork is None:
            return []
        fs = self._forks[id(fork)]
        fs.left -= 1
        fs.end = max(fs.end, t)
        if fs.left or fork.detached:
            return []
        return self._advance(self._parent[node.id])


@dataclass(frozen=True, slots=True)
class TimedRequest:
    node: str
    turn: int
    start: float
    end: float
    depth: int


DurationFn = Callable[[Node, int], float]


def recorded_duration(node: Node, k: int) -> float:
    """A turn's recorded request duration (0 when the recording has none)."""
    return node.turns[k].recorded_duration_s or 0.0


def timeline(root: Node, duration: DurationFn = recorded_duration, *, think_time: bool = True,
             tool_delay: ToolDelayFn = recorded_tool_delay) -> list[TimedRequest]:
    """When every request of one tree replay starts and ends, given each request's duration.

    TreeReplay's rules with no contention between requests: what the recording did, when
    `duration` gives the recorded durations. Sorted by start.
    """
    replay = TreeReplay(root, think_time=think_time, tool_delay=tool_delay)
    queue = deque(replay.start(0.0))
    out: list[TimedRequest] = []
    while queue:
        due = queue.popleft()
        end = due.at + duration(due.node, due.turn)
        out.append(TimedRequest(due.node.id, due.turn, due.at, end, due.node.depth))
        queue.extend(replay.reply_done(due.node.id, due.turn, end))
    out.sort(key=lambda r: (r.start, r.depth))
    return out
