"""Fixtures of the fault suite: the fault-injecting server on 127.0.0.1, in a thread or as a process.

    def test_x(fault_server: FaultServer) -> None:          # honest, 200 tok/s, stopped afterwards
        fault_server.set_fault("reset", at_token=2)

    def test_y(start_fault_server: StartFaultServer) -> None:
        server = start_fault_server(Fault(mode="short", after=4), tokens_per_s=None)

    def test_z(spawn_fault_server: SpawnFaultServer) -> None:  # a process of its own
        proc = spawn_fault_server("--mode", "stall_before_first")
        proc.control.set_fault("ok"); stats = proc.stop()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .fault_modes import Fault
from .fault_process import FaultProcess
from .fault_server import FaultServer
from .tool_runs import write_trajectories

StartFaultServer = Callable[..., FaultServer]
"""`start_fault_server(fault=None, **FaultServer options) -> a started FaultServer`."""
SpawnFaultServer = Callable[..., FaultProcess]
"""`spawn_fault_server(*command-line args) -> a started FaultProcess`."""


@pytest.fixture
def start_fault_server() -> Iterator[StartFaultServer]:
    """Start fault servers in background threads (one per call); all are stopped at teardown."""
    servers: list[FaultServer] = []

    def start(fault: Fault | None = None, **options: Any) -> FaultServer:
        server = FaultServer(fault, **options)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def fault_server(start_fault_server: StartFaultServer) -> FaultServer:
    """An honest fault server (mode "ok", 200 tok/s per stream, no TTFT delay); switch its fault
    with `set_fault`."""
    return start_fault_server()


@pytest.fixture
def spawn_fault_server() -> Iterator[SpawnFaultServer]:
    """Start fault servers as child processes (one per call); each still running at teardown gets
    SIGTERM (SIGKILL if it does not end)."""
    procs: list[FaultProcess] = []

    def spawn(*args: str) -> FaultProcess:
        proc = FaultProcess(*args)
        procs.append(proc)
        return proc.start()

    yield spawn
    for proc in procs:
        proc.stop()


@pytest.fixture
def trajectory_set(tmp_path: Path) -> Path:
    """A small token-only trajectory set (short replies, 50 ms tool delays) for runs of the tool."""
    return write_trajectories(tmp_path / "trajectories")
