"""Load workers as Ray actors on the nodes of an existing Ray cluster (`--ray ADDRESS`): the same
Worker, the same protocol, reached through actor calls. Their clocks are their own; each offset
to the coordinator's clock is measured by round trips and reported with its uncertainty."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentperf_tui.core.engine.config import ConfigError
from agentperf_tui.core.engine.protocol import WorkerCommand, WorkerReply
from agentperf_tui.core.engine.remote_workers import EventFn, RemoteWorkers, WorkerLost

INSTALL_HINT = "Ray is not installed here: install it with `pip install 'agentperf-tui[ray]'`"


def _ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise ConfigError(f"--ray: {INSTALL_HINT}") from e
    return ray


class WorkerActor:
    """The body of the Ray actor: a Worker answering commands."""

    def __init__(self) -> None:
        from agentperf_tui.core.engine.worker import Worker

        self._worker = Worker()

    def handle(self, command: WorkerCommand) -> WorkerReply:
        return self._worker.handle(command)


class RayLink:
    def __init__(self, actor: Any, name: str) -> None:
        self._actor = actor
        self.name = name
        self._ref: Any = None
        self._end = ""

    def send(self, command: WorkerCommand) -> None:
        try:
            self._ref = self._actor.handle.remote(command)
        except Exception as e:
            raise WorkerLost(f"cannot reach it: {type(e).__name__}: {e}") from e

    def receive(self, timeout: float) -> WorkerReply:
        ray = _ray()
        try:
            reply: WorkerReply = ray.get(self._ref, timeout=timeout)
            return reply
        except ray.exceptions.GetTimeoutError as e:
            raise WorkerLost(f"no answer within {timeout:g} s") from e
        except ray.exceptions.RayError as e:
            self._end = f"{type(e).__name__}"
            raise WorkerLost(f"its actor is gone ({type(e).__name__})") from e

    def describe_end(self) -> str:
        return self._end

    def close(self) -> None:
        """End the actor this link created."""
        ray = _ray()
        try:
            ray.kill(self._actor)
        except Exception:  # already gone
            return


def ray_workers(address: str, per_node: int, clock: Callable[[], float], event: EventFn) -> RemoteWorkers:
    """Connect to the Ray cluster at `address` and place `per_node` load workers on each of its
    alive nodes."""
    ray = _ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    try:
        ray.init(address=address, ignore_reinit_error=True, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ConfigError(f"--ray {address}: cannot connect to a Ray cluster there ({e})") from e
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    if not nodes:
        raise ConfigError(f"--ray {address}: the cluster has no alive node")
    actor_cls = ray.remote(num_cpus=1)(WorkerActor)
    links = []
    for j, node in enumerate(nodes):
        for k in range(per_node):
            strategy = NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False)
            actor = actor_cls.options(scheduling_strategy=strategy).remote()
            links.append(RayLink(actor, f"node {j} ({node.get('NodeManagerAddress', '?')}) #{k}"))
    hosts = sorted({str(n.get("NodeManagerAddress")) for n in nodes})
    where = f"{len(nodes)} nodes ({', '.join(hosts)})"
    event("info", f"Ray cluster {address}: {where}, {len(links)} load workers")
    workers = RemoteWorkers("ray", links, clock, event, shared_clock=False)
    here = ray.util.get_node_ip_address()
    workers.elsewhere = [h for h in hosts if h != here]
    return workers
