"""Paged KV-cache accounting with a prefix cache (block hashes, reference counts, LRU eviction).

Blocks are counted, not stored. A block is either free, private to one request (partial
blocks, output blocks, duplicate prompt blocks), or cached under its hash. A cached block with
no reference sits in an LRU list: it still serves prefix hits, and it is the first thing
evicted when free blocks run out (as in vLLM's free-block queue).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence


class BlockPool:
    def __init__(self, num_blocks: int) -> None:
        self.total = num_blocks
        self.free = num_blocks
        self.refs: dict[int, int] = {}
        self.lru: OrderedDict[int, None] = OrderedDict()
        self.evictions = 0

    @property
    def available(self) -> int:
        """Blocks that can be handed out now (free plus unreferenced cached)."""
        return self.free + len(self.lru)

    @property
    def used(self) -> int:
        return self.total - self.available

    @property
    def usage(self) -> float:
        return self.used / self.total if self.total else 0.0

    def lookup(self, hashes: Sequence[int], limit: int) -> int:
        """Number of leading blocks of `hashes` (at most `limit`) present in the cache."""
        present = list(map(self.refs.__contains__, hashes[:limit]))
        try:
            return present.index(False)
        except ValueError:
            return len(present)

    def idle_among(self, hashes: Sequence[int]) -> int:
        """How many of these cached blocks have no reference (acquiring them uses up availability)."""
        return sum(map(self.lru.__contains__, hashes))

    def acquire(self, hashes: Sequence[int]) -> None:
        """Take a reference on cached blocks (prefix hits)."""
        refs, lru = self.refs, self.lru
        for h in hashes:
            r = refs[h]
            if r == 0:
                del lru[h]
            refs[h] = r + 1

    def allocate(self, n: int) -> bool:
        """Hand out n private blocks, evicting unreferenced cached blocks if needed."""
        if n <= 0:
            return True
        if n > self.free + len(self.lru):
            return False
        take = min(n, self.free)
        self.free -= take
        rest = n - take
        lru, refs = self.lru, self.refs
        for _ in range(rest):
            h, _none = lru.popitem(last=False)
            del refs[h]
        self.evictions += rest
        return True

    def register(self, h: int) -> bool:
        """Turn a just-filled private block into a cached one. False if the hash is already cached."""
        if h in self.refs:
            return False
        self.refs[h] = 1
        return True

    def release(self, hashes: Sequence[int], private: int) -> None:
        """Drop a request's references and return its private blocks.

        Blocks are released tail first, so a sequence's last blocks are evicted before its
        prefix, which other requests are likelier to share.
        """
        refs, lru = self.refs, self.lru
        for h in reversed(hashes):
            r = refs[h] - 1
            refs[h] = r
            if r == 0:
                lru[h] = None
        self.free += private
