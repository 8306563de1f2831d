"""A prompt's prefix-cache block identities, kept as runs of consecutive identities.

A replayed conversation's next prompt is the previous prompt (all of it, or its first `keep`
blocks) plus new blocks with fresh identities, so its identities are a few runs of
consecutive integers: one per turn. Holding the runs instead of one integer per block keeps
thousands of simulated agents with 100K-token contexts in a few megabytes. The rack-scale
engine reads only a prompt's length, its first and last identity and the identity at a given
block, which a walk over the runs answers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload


class BlockRuns(Sequence[int]):
    """Identities `start, start + 1, ...` of each (start, length) run, in order."""

    __slots__ = ("_n", "_runs")

    def __init__(self, runs: tuple[tuple[int, int], ...] = ()) -> None:
        self._runs = runs
        self._n = sum(length for _, length in runs)

    def grown(self, keep: int, first: int, count: int) -> BlockRuns:
        """The first `keep` identities of this chain followed by `first .. first + count - 1`."""
        runs: list[tuple[int, int]] = []
        left = keep
        for start, length in self._runs:
            if left <= 0:
                break
            take = min(length, left)
            runs.append((start, take))
            left -= take
        if count > 0:
            if runs and runs[-1][0] + runs[-1][1] == first:
                start, length = runs.pop()
                runs.append((start, length + count))
            else:
                runs.append((first, count))
        return BlockRuns(tuple(runs))

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> int: ...

    @overload
    def __getitem__(self, i: slice) -> list[int]: ...

    def __getitem__(self, i: int | slice) -> int | list[int]:
        if isinstance(i, slice):
            return list(self)[i]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("block index out of range")
        for start, length in self._runs:
            if i < length:
                return start + i
            i -= length
        raise IndexError("block index out of range")  # pragma: no cover - lengths add up to _n

    def __iter__(self) -> Iterator[int]:
        for start, length in self._runs:
            yield from range(start, start + length)
