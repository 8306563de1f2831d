"""Errors raised by the run store; every message names the store file and what to do."""

from __future__ import annotations

from pathlib import Path


class StoreError(RuntimeError):
    """Base class: something about the run store at `path` is wrong."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {message}")


class StoreNotFoundError(StoreError):
    """There is no run store file at the path."""


class StoreUnreadableError(StoreError):
    """The file exists but is not a readable agentperf-tui run store."""


class SchemaVersionError(StoreError):
    """The store was written with a schema version this program does not understand."""

    def __init__(self, path: str | Path, found: int, supported: int, message: str) -> None:
        self.found = found
        self.supported = supported
        super().__init__(path, message)


class UnknownRunError(StoreError):
    """No run matches the given id (or id prefix)."""

    def __init__(self, path: str | Path, ref: str, candidates: tuple[str, ...] = ()) -> None:
        self.ref = ref
        self.candidates = candidates
        if candidates:
            shown = ", ".join(candidates[:8]) + (" ..." if len(candidates) > 8 else "")
            msg = f"run id prefix {ref!r} is ambiguous: matches {shown}; give more characters"
        else:
            msg = f"no run {ref!r} in this store; `agentperf-tui runs list` shows the run ids"
        super().__init__(path, msg)


class StoreWriteError(StoreError):
    """The background writer failed to put some rows on disk."""


class StoreClosedError(StoreError):
    """A write was attempted after `RunStore.close()`."""
