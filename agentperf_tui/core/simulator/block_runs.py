"""A prompt's prefix-cache block identities, kept as runs of consecutive identities.

A replayed conversation's next prompt is the previous prompt (all of it, or its first `keep`
blocks) plus new blocks with fresh identities, so its identities are a few runs of
consecutive integers: one per turn. Holding the runs instead of one integer per block keeps
thousands of simulated agents with 100K-token contexts in a few megabytes. The rack-scale
engine reads only a prompt's length, its first and last identity and the identity at a given
block, which a binary search over the runs' ends answers.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from typing import overload


class BlockRuns(Sequence[int]):
    """Identities `start, start + 1, ...` of each run, in order: run k starts at `starts[k]` and
    ends (exclusive, counted over the whole chain) at `ends[k]`. `length` and `first` (the first
    identity; -1 when the chain is empty, which `length` tells) are plain attributes, read
    without a call."""

    __slots__ = ("_ends", "_n", "_starts", "first", "length")

    def __init__(self, starts: tuple[int, ...] = (), ends: tuple[int, ...] = ()) -> None:
        self._starts = starts
        self._ends = ends
        self._n = self.length = ends[-1] if ends else 0
        self.first = starts[0] if starts else -1

    @classmethod
    def of(cls, ids: Sequence[int]) -> BlockRuns:
        """The runs of a list of identities."""
        if isinstance(ids, BlockRuns):
            return ids
        starts: list[int] = []
        ends: list[int] = []
        for k, h in enumerate(ids):
            if starts and h == starts[-1] + k - (ends[-2] if len(ends) > 1 else 0):
                ends[-1] = k + 1
            else:
                starts.append(h)
                ends.append(k + 1)
        return cls(tuple(starts), tuple(ends))

    def grown(self, keep: int, first: int, count: int) -> BlockRuns:
        """The first `keep` identities of this chain followed by `first .. first + count - 1`."""
        starts, ends = self._starts, self._ends
        n = self._n
        if keep < n:
            k = bisect.bisect_left(ends, keep)  # the run that holds identity keep - 1 (or none)
            if keep == 0:
                starts, ends = (), ()
            else:
                starts, ends = starts[: k + 1], (*ends[:k], keep)
            n = keep
        if count <= 0:
            return BlockRuns(starts, ends)
        if ends and starts[-1] + (ends[-1] - (ends[-2] if len(ends) > 1 else 0)) == first:
            return BlockRuns(starts, (*ends[:-1], n + count))
        return BlockRuns((*starts, first), (*ends, n + count))

    def shifted(self, offset: int) -> BlockRuns:
        """The same chain with every identity moved by `offset` (a template made concrete)."""
        return BlockRuns(tuple(s + offset for s in self._starts), self._ends)

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> int: ...

    @overload
    def __getitem__(self, i: slice) -> list[int]: ...

    def __getitem__(self, i: int | slice) -> int | list[int]:
        if isinstance(i, slice):
            return list(self)[i]
        n = self._n
        if i == 0 and n:
            return self._starts[0]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("block index out of range")
        ends = self._ends
        k = bisect.bisect_right(ends, i)
        return self._starts[k] + i - (ends[k - 1] if k else 0)

    def __iter__(self) -> Iterator[int]:
        prev = 0
        for start, end in zip(self._starts, self._ends, strict=True):
            yield from range(start, start + end - prev)
            prev = end


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading identities two chains share.

    Chains are prefix-closed (an identity stands for all the content before it too: two chains
    that hold the same identity at block i hold the same ones before it), so the shorter chain
    is shared whole when its last identity is the other's at the same place (a conversation's
    next prompt extends its last one), and otherwise a binary search finds the shared part in
    O(log n) lookups.
    """
    if type(a) is BlockRuns and type(b) is BlockRuns:
        if a._n > b._n:
            a, b = b, a
        m = a._n
        if not m:
            return 0
        # a's last identity, and b's at the same place (the run of b that holds it)
        ends = a._ends
        last = a._starts[-1] + m - 1 - (ends[-2] if len(ends) > 1 else 0)
        ends = b._ends
        k = bisect.bisect_right(ends, m - 1)
        if b._starts[k] + m - 1 - (ends[k - 1] if k else 0) == last:
            return m
    else:
        m = min(len(a), len(b))
        if not m or a[m - 1] == b[m - 1]:
            return m
    lo, hi = 0, m - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[mid - 1] == b[mid - 1]:
            lo = mid
        else:
            hi = mid - 1
    return lo
