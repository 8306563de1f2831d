"""Is the process that was writing a run still alive?

A run whose writer was killed keeps status "running" in the database. Readers tell it apart
from a live run by the writer's identity stored with the run: host name, PID and a process
token (boot id + process start time on Linux, so a recycled PID is not mistaken for the
writer) plus a heartbeat the writer refreshes every few seconds and zeroes when it closes
without a finish record.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT_INTERVAL_S = 5.0
"""How often an open run's heartbeat is refreshed, even when nothing else is written."""

STALE_AFTER_S = 60.0
"""A heartbeat older than this means nobody is writing the run any more (writer gone, hung, or
on another host that died)."""


@dataclass(frozen=True, slots=True)
class WriterIdentity:
    pid: int
    host: str
    token: str | None
    """"<boot id>:<start ticks>" on Linux; None where the platform gives no such thing."""


def process_token(pid: int) -> str | None:
    """Boot id and start time of process `pid`, or None when they cannot be read."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime) counted after the parenthesised command name, which may hold spaces.
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return None
    return f"{boot}:{fields[19]}"


def current_writer() -> WriterIdentity:
    pid = os.getpid()
    return WriterIdentity(pid=pid, host=socket.gethostname(), token=process_token(pid))


def writer_alive(
    pid: int | None, host: str | None, token: str | None, heartbeat_wall: float | None, now: float
) -> bool:
    """True while the run may still be written: heartbeat fresh, and on this host the writing
    process still exists (a store closed without finishing its run zeroes the heartbeat)."""
    if heartbeat_wall is None or now - heartbeat_wall >= STALE_AFTER_S:
        return False
    if pid is None or host is None or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if _is_zombie(pid):
        return False  # killed, not yet reaped by its parent
    if token is not None:
        current = process_token(pid)
        if current is not None and current != token:
            return False  # PID recycled, or the machine rebooted
    return True


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat[stat.rfind(")") + 2 :][:1]
    return state in ("Z", "X")
