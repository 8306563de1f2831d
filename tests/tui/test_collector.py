"""The console's collector policy: what is alive when a screen is built is kept out of
collections until the next run is set up, which collects what the previous one left behind."""

from __future__ import annotations

import gc
import weakref

from agentperf_tui.tui.collector import settle


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it


def test_settle_keeps_what_lives_out_of_collections_until_the_next_settle() -> None:
    node = Node()
    ref = weakref.ref(node)
    settle()
    assert gc.get_freeze_count() > 0
    del node
    gc.collect()
    assert ref() is not None  # frozen: no collection walks it
    settle()
    assert ref() is None  # the next settle unfroze and collected it
    gc.unfreeze()
