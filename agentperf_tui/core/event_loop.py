"""The event loop the engine and the simulator run on: uvloop where installed (less CPU per
streamed token, see benchmarks/client_bench.py), else asyncio's default loop."""

from __future__ import annotations

import asyncio


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def new_loop_runner() -> asyncio.Runner:
    """An asyncio.Runner on `new_event_loop()`."""
    return asyncio.Runner(loop_factory=new_event_loop)
