"""Load workers as processes on this machine (`--workers K`): each runs
`agentperf_tui.core.engine.worker_child`, reached over a pair of pipes. They share the
coordinator's monotonic clock, so their times need no offset."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection

from agentperf_tui.core.engine.protocol import WorkerCommand, WorkerReply
from agentperf_tui.core.engine.remote_workers import EventFn, RemoteWorkers, WorkerLost

CHILD_MODULE = "agentperf_tui.core.engine.worker_child"
EXIT_WAIT_S = 10.0


class ProcessLink:
    def __init__(self, index: int) -> None:
        commands_r, commands_w = os.pipe()
        replies_r, replies_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", CHILD_MODULE, str(commands_r), str(replies_w)],
                pass_fds=(commands_r, replies_w),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            for fd in (commands_w, replies_r):
                os.close(fd)
            raise
        finally:
            os.close(commands_r)
            os.close(replies_w)
        self.name = f"{index} (pid {self.proc.pid})"
        self._commands = Connection(commands_w, readable=False)
        self._replies = Connection(replies_r, writable=False)

    def send(self, command: WorkerCommand) -> None:
        try:
            self._commands.send(command)
        except (OSError, ValueError) as e:
            raise WorkerLost(f"cannot reach it: {e}") from e

    def receive(self, timeout: float) -> WorkerReply:
        try:
            if not self._replies.poll(timeout):
                raise WorkerLost(f"no answer within {timeout:g} s")
            reply: WorkerReply = self._replies.recv()
            return reply
        except (EOFError, OSError) as e:
            raise WorkerLost("its process is gone") from e

    def describe_end(self) -> str:
        code = self.proc.poll()
        return "" if code is None else f"exit code {code}"

    def close(self) -> None:
        """Close the pipes, then make sure the process this link started has ended (by its PID)."""
        for conn in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                conn.close()
        try:
            self.proc.wait(EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(EXIT_WAIT_S)


def process_workers(count: int, clock: Callable[[], float], event: EventFn) -> RemoteWorkers:
    links = []
    try:
        for i in range(count):
            links.append(ProcessLink(i))
    except BaseException:
        for link in links:
            link.close()
        raise
    return RemoteWorkers("process", links, clock, event, shared_clock=True)
