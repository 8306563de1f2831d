"""The setup screen's endpoint check: what the server is and whether it honours exact lengths.

Runs in a thread worker, never on the UI loop. A check never raises: every failure is a row of
the report saying what was tried and what came back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agentperf_tui.core.engine.config import RunConfig


@dataclass(frozen=True, slots=True)
class CheckRow:
    what: str
    found: str
    status: str = "ok"
    """"ok", "warn" or "fail"."""


@dataclass(frozen=True, slots=True)
class CheckReport:
    rows: list[CheckRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status != "fail" for r in self.rows)


Prober = Callable[[RunConfig], CheckReport]


async def _probe(base_url: str, config: RunConfig, simulated: bool) -> CheckReport:
    from agentperf_tui.core.client.probe import check_endpoint, list_models, probe_exact_length
    from agentperf_tui.core.client.stream import StreamClient

    rows: list[CheckRow] = []
    if simulated:
        rows.append(CheckRow("server", "SIMULATED (embedded simulator)", "warn"))
    api_key = config.api_key()
    client = StreamClient(
        base_url, api_key=api_key, max_connections=4, connect_timeout=10.0, read_timeout=60.0
    )
    try:
        model = config.model
        if model is None:
            served = await list_models(client)
            if not served:
                rows.append(CheckRow("/v1/models", "the server lists no models", "fail"))
                return CheckReport(rows)
            model = served[0].id
        check = await check_endpoint(base_url, model, api_key)
        if not check.ok:
            rows.append(CheckRow("/v1/models", str(check.error or "no answer"), "fail"))
            return CheckReport(rows)
        listed = f" ({len(check.served)} served)" if len(check.served) > 1 else ""
        rows.append(CheckRow("model", f"{check.model}{listed}"))
        info = check.model_info
        if info is not None and info.max_model_len:
            rows.append(CheckRow("context", f"{info.max_model_len:,} tokens"))
        else:
            rows.append(CheckRow("context", "not reported by the server", "warn"))
        probe = await probe_exact_length(client, check.model)
    finally:
        await client.aclose()
    if probe.comparable:
        fields = " + ".join(probe.exact_fields) or "the default request"
        verdict = f"honoured: {probe.exact_tokens or probe.tokens}/{probe.tokens} tokens with {fields}"
    else:
        lines = probe.detail.strip().splitlines()
        verdict = "not honoured: " + (lines[-1] if lines else "the server ignores ignore_eos and min_tokens")
    rows.append(CheckRow("exact length", verdict, "ok" if probe.comparable else "fail"))
    if not probe.comparable:
        rows.append(CheckRow("comparable", "no: a run would be marked not comparable", "warn"))
    return CheckReport(rows)


def check_endpoint_report(config: RunConfig) -> CheckReport:
    """Probe the configured endpoint (starting the embedded simulator for the check when no
    endpoint is given). Blocking: call it from a thread worker."""
    import asyncio

    sim = None
    try:
        if config.endpoint is None:
            from agentperf_tui.core.simulator.embedded import EmbeddedSimulator

            kwargs: dict[str, str] = {}
            if config.hardware:
                kwargs["hardware"] = config.hardware
            if config.sim_model:
                kwargs["model"] = config.sim_model
            sim = EmbeddedSimulator(seed=config.seed, **kwargs)  # type: ignore[arg-type]
            sim.start()
            base_url = sim.base_url
        else:
            base_url = config.endpoint
        return asyncio.run(_probe(base_url, config, simulated=sim is not None))
    except Exception as e:  # every failure is a row of the report, never an exception
        return CheckReport([CheckRow("check", f"{type(e).__name__}: {e}", "fail")])
    finally:
        if sim is not None:
            sim.close()
