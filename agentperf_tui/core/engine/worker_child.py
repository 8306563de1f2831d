"""A load worker process: `python -m agentperf_tui.core.engine.worker_child COMMANDS_FD REPLIES_FD`.

Answers each command from the coordinator with one reply until StopWorker, or until the
coordinator goes away (its pipe closes): then it stops its agents and exits.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from agentperf_tui.core.engine.protocol import StopWorker


def serve(commands: Connection, replies: Connection) -> None:
    from agentperf_tui.core.engine.worker import Worker

    worker = Worker()
    while True:
        try:
            command = commands.recv()
        except (EOFError, OSError):
            worker.handle(StopWorker())
            return
        reply = worker.handle(command)
        try:
            replies.send(reply)
        except (OSError, ValueError):
            worker.handle(StopWorker())
            return
        if isinstance(command, StopWorker):
            return


def main(argv: list[str]) -> None:
    serve(Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False))


if __name__ == "__main__":
    from agentperf_tui.core.engine import worker_child

    worker_child.main(sys.argv[1:])
