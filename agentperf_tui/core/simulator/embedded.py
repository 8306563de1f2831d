"""The simulator as an in-process endpoint: its own thread and event loop, listening on loopback.

    sim = EmbeddedSimulator()          # the default, deliberately small deployment
    sim.start()                        # returns once the port is listening
    ... requests to sim.base_url ...
    sim.close()

Default deployment: Llama 3.3 70B (FP8) on one replica of 2 x H100 SXM. Its KV cache holds
about 210k tokens and its decode speed falls from ~58 tok/s alone to ~30 tok/s near 30
concurrent streams, so short-context agent traces reach the interesting region at a few tens
of agents, which one laptop core can drive and the simulator can serve in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

from aiohttp import web

from agentperf_tui.core.event_loop import new_event_loop
from agentperf_tui.core.simulator.power import SimulatedPowerSource
from agentperf_tui.core.simulator.profiles import Deployment, load_deployment
from agentperf_tui.core.simulator.server import SimServer

DEFAULT_HARDWARE = "h100-sxm"
DEFAULT_MODEL = "llama-3.3-70b"


class EmbeddedSimulator:
    """An OpenAI-compatible simulated server on 127.0.0.1, running in a background thread."""

    def __init__(self, hardware: str = DEFAULT_HARDWARE, model: str = DEFAULT_MODEL, *,
                 replicas: int | None = None, gpus_per_replica: int | None = None,
                 host: str = "127.0.0.1", port: int = 0, seed: int = 0) -> None:
        self.deployment: Deployment = load_deployment(hardware, model, replicas=replicas,
                                                      gpus_per_replica=gpus_per_replica)
        self.server = SimServer(self.deployment, seed=seed)
        self.model_name = self.server.model_name
        self.gpu_count = self.deployment.gpu_count
        self.host = host
        self.port = port
        self.base_url = ""
        self.simulated = True
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def describe(self) -> str:
        return self.deployment.describe()

    def start(self) -> None:
        """Start the server thread; return once it listens (raise if it cannot)."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already started")
        self._thread = threading.Thread(target=self._run, name="agentperf-simulator", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"the simulator could not listen on {self.host}:{self.port}: "
                               f"{self._error}") from self._error

    def _run(self) -> None:
        loop = new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._listen())
        except BaseException as e:  # reported to start()'s caller
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _listen(self) -> None:
        runner = web.AppRunner(self.server.app(), access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.host, self.port, backlog=4096)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self.base_url = f"http://{self.host}:{self.port}"

    def power_source(self) -> SimulatedPowerSource:
        """The simulated power model as a telemetry source (labelled simulated)."""
        dep = self.deployment
        return SimulatedPowerSource(self.server.readings, gpu_count=dep.gpu_count, tdp_w=dep.hardware.tdp_w,
                                    label=dep.label)

    def close(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> EmbeddedSimulator:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
