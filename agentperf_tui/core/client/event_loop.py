"""The event loop the stream loop should run on: uvloop where installed (less CPU per streamed token
than asyncio's default loop, benchmarks/client_bench.py --loop uvloop asyncio), else asyncio's."""

from __future__ import annotations

import asyncio


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """ "uvloop" or "asyncio", for run metadata."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
