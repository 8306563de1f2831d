"""The engine's side of `EngineProcess`: runs an `EngineHandle` in a child process.

    python -m agentperf_tui.core.engine.process_child EVENTS_FD COMMANDS_FD [LOG_PATH]

What the engine publishes goes back on one pipe, sent by a thread of its own so the engine never
waits for the parent; snapshots are conflated, everything else is delivered in order. Commands
arrive on a second pipe; when it closes, the run is aborted. See docs/console.md.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import threading
import time
import traceback
from collections import deque
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.protocol import (
    Abort,
    EventLogged,
    Published,
    RunFailed,
    RunSummarised,
    SnapshotPublished,
    StoreOpened,
    is_command,
)
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.views import Event, Snapshot

if TYPE_CHECKING:
    from agentperf_tui.core.engine.handle import EngineHandle

POLL_S = 0.1


class RemoteEngineError(RuntimeError):
    """An engine error whose exception could not cross the process boundary as itself."""


class Outbox:
    """The engine's observer in the child: queues messages, and a sender thread pipes them out."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._cond = threading.Condition()
        self._ordered: deque[Published] = deque()
        self._snapshot: Snapshot | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._send_loop, name="agentperf-outbox", daemon=True)
        self._thread.start()

    # ---- Observer ----
    def on_snapshot(self, snap: Snapshot) -> None:
        with self._cond:
            self._snapshot = snap
            self._cond.notify()

    def on_event(self, event: Event) -> None:
        self.put(EventLogged(event))

    def on_finish(self, summary: RunSummary) -> None:
        self.put(RunSummarised(summary))

    def on_error(self, error: BaseException) -> None:
        self.put(RunFailed(portable_error(error)))

    # ---- sending ----
    def put(self, message: Published) -> None:
        with self._cond:
            self._ordered.append(message)
            self._cond.notify()

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                while not self._ordered and self._snapshot is None and not self._closing:
                    self._cond.wait()
                # Events before the snapshot that follows them; a summary or error last.
                batch = list(self._ordered)
                self._ordered.clear()
                snap, self._snapshot = self._snapshot, None
                closing = self._closing
            tail = [m for m in batch if isinstance(m, RunSummarised | RunFailed)]
            out: list[Published] = [m for m in batch if not isinstance(m, RunSummarised | RunFailed)]
            if snap is not None:
                out.append(SnapshotPublished(snap))
            out += tail
            for message in out:
                if not self._send(message):
                    return
            if closing:
                with self._cond:
                    if not self._ordered and self._snapshot is None:
                        return

    def _send(self, message: Published) -> bool:
        try:
            self._conn.send(message)
            return True
        except (OSError, EOFError, ValueError):  # the parent has gone: nobody left to tell
            return False

    def close(self, timeout: float = 10.0) -> None:
        """Send whatever is queued, then stop the sender."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)


def portable_error(error: BaseException) -> BaseException:
    """The error itself when it pickles (and unpickles), else a RemoteEngineError carrying its text."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RemoteEngineError(f"{type(error).__name__}: {error}")


def child_main(events: Connection, commands: Connection, log_path: str | None = None) -> None:
    """Run the engine whose RunConfig (JSON) is the first thing on the command pipe."""
    outbox = Outbox(events)
    try:
        config = RunConfig.model_validate_json(commands.recv_bytes())
        from agentperf_tui.core.engine.handle import EngineHandle

        handle = EngineHandle(config, [outbox])
        handle.start()
        orphaned = _serve(handle, outbox, commands)
        handle.join()
        if orphaned and handle.error is None and log_path:
            # Nobody is left to read the log of a run that ended well: the summary is stored.
            with contextlib.suppress(OSError):
                os.unlink(log_path)
    except BaseException as e:  # the parent hears of it, whatever it was
        traceback.print_exc()
        outbox.on_error(e)
    finally:
        outbox.close()
        events.close()


def _serve(handle: EngineHandle, outbox: Outbox, commands: Connection) -> bool:
    """Carry out the parent's commands until the run ends; abort when the parent goes away.
    Returns whether it went away. Tells the parent where the run is stored once that is known."""
    sent_store: str | None = None

    def tell_store() -> None:
        nonlocal sent_store
        if handle.store_path is not None and handle.store_path != sent_store:
            sent_store = handle.store_path
            outbox.put(StoreOpened(sent_store))

    parent_gone = False
    while handle.running:
        tell_store()
        if parent_gone:
            time.sleep(POLL_S)
            continue
        try:
            if not commands.poll(POLL_S):
                continue
            command = commands.recv()
        except (EOFError, OSError):
            parent_gone = True
            handle.submit(Abort("the console went away"))
            continue
        if is_command(command):
            handle.submit(command)
    tell_store()
    return parent_gone


def main(argv: list[str]) -> None:
    events_fd, commands_fd = int(argv[0]), int(argv[1])
    log_path = argv[2] if len(argv) > 2 else None
    child_main(Connection(events_fd, readable=False), Connection(commands_fd, writable=False), log_path)


if __name__ == "__main__":
    # Run the module under its own name, so that what it pickles (RemoteEngineError) unpickles
    # in the parent, which knows it as agentperf_tui.core.engine.process_child, not __main__.
    from agentperf_tui.core.engine import process_child

    process_child.main(sys.argv[1:])
