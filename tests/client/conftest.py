from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import cast

import pytest
from aiohttp import web

from agentperf_tui.core.client.stream import Backend

from .fake_openai import Behaviour, make_app

Serve = Callable[[Behaviour], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start fake OpenAI servers on 127.0.0.1 (one per call); yields `serve(behaviour) -> base URL`."""
    runners: list[web.AppRunner] = []

    async def start(behaviour: Behaviour) -> str:
        runner = web.AppRunner(
            make_app(behaviour),
            handle_signals=False,
            shutdown_timeout=0.1,
            keepalive_timeout=behaviour.idle_timeout,
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (the port was just free)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(params=["httptools", "aiohttp", "httpx"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return cast(Backend, request.param)
