"""Before a run: which server, which model, is it simulated, and does it honour exact lengths.

One pre-flight for the engine and for the setup screen's check. It lists the served models once,
takes the first one when none was named, and probes exact output lengths. `start_endpoint` starts
the embedded simulator when the configuration names no endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agentperf_tui.core import defaults
from agentperf_tui.core.client.errors import EndpointError
from agentperf_tui.core.client.probe import ExactLengthProbe, ModelInfo, check_served, probe_exact_length
from agentperf_tui.core.client.request import EXACT_FIELDS
from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.engine.config import ConfigError, RunConfig

if TYPE_CHECKING:
    from agentperf_tui.core.simulator.embedded import EmbeddedSimulator

NOT_REQUESTED = "exact output length not requested (--no-exact-length): not comparable"


class PreflightError(RuntimeError):
    """The endpoint cannot be measured; the message says what is wrong and what to do."""


class PreflightSettingError(PreflightError, ConfigError):
    """The endpoint refuses a setting of the run (its API key, its model name): nothing was run,
    and the fix is in the settings, not the server."""


@dataclass(frozen=True, slots=True)
class Preflight:
    base_url: str
    model: str
    model_info: ModelInfo | None
    served: tuple[ModelInfo, ...]
    simulated: bool
    simulated_by: str | None
    """Why the run counts as simulated: "embedded simulator" or "the server says so"."""
    probe: ExactLengthProbe | None
    """None when exact output lengths were not requested."""
    comparable: bool
    comparability: str
    """The probe's finding, or why the run is not comparable."""
    exact_fields: tuple[str, ...] = field(default=EXACT_FIELDS)


def start_embedded(config: RunConfig) -> EmbeddedSimulator:
    """The embedded simulator for `config` (its hardware and model profiles), started."""
    from agentperf_tui.core.simulator.embedded import EmbeddedSimulator

    sim = EmbeddedSimulator(
        config.hardware or defaults.SIM_HARDWARE, config.sim_model or defaults.SIM_MODEL, seed=config.seed
    )
    sim.start()
    return sim


async def preflight(
    client: StreamClient, model: str | None, *, exact_length: bool, embedded: bool
) -> Preflight:
    """Check the server behind `client` and probe it; raises PreflightError."""
    check = await check_served(client, model)
    if not check.ok:
        error = PreflightSettingError if check.bad_setting is not None else PreflightError
        raise error(check.error or f"endpoint check of {client.base_url} failed")
    info = check.model_info
    says_simulated = info is not None and info.simulated
    simulated_by = "embedded simulator" if embedded else "the server says so" if says_simulated else None
    probe: ExactLengthProbe | None = None
    if exact_length:
        try:
            probe = await probe_exact_length(client, check.model)
        except EndpointError as e:
            raise PreflightError(f"exact-length probe of {client.base_url}: {e}") from e
    return Preflight(
        base_url=client.base_url,
        model=check.model,
        model_info=info,
        served=check.served,
        simulated=simulated_by is not None,
        simulated_by=simulated_by,
        probe=probe,
        comparable=probe.comparable if probe is not None else False,
        comparability=probe.detail if probe is not None else NOT_REQUESTED,
        exact_fields=(probe.exact_fields or EXACT_FIELDS) if probe is not None else (),
    )


# ---- the setup screen's check: the same pre-flight, reported as rows ------------------------------


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


def report_rows(pf: Preflight) -> list[CheckRow]:
    rows: list[CheckRow] = []
    if pf.simulated:
        rows.append(CheckRow("server", f"SIMULATED ({pf.simulated_by})", "warn"))
    listed = f" ({len(pf.served)} served)" if len(pf.served) > 1 else ""
    rows.append(CheckRow("model", f"{pf.model}{listed}"))
    info = pf.model_info
    if info is not None and info.max_model_len:
        rows.append(CheckRow("context", f"{info.max_model_len:,} tokens"))
    else:
        rows.append(CheckRow("context", "not reported by the server", "warn"))
    probe = pf.probe
    if probe is None:
        rows.append(CheckRow("exact length", "not requested: a run would be marked not comparable", "warn"))
    elif probe.comparable:
        fields = " + ".join(probe.exact_fields) or "the default request"
        got = f"{probe.exact_tokens or probe.tokens}/{probe.tokens} tokens"
        rows.append(CheckRow("exact length", f"honoured: {got} with {fields}"))
    else:
        lines = probe.detail.strip().splitlines()
        why = lines[-1] if lines else "the server ignores ignore_eos and min_tokens"
        rows.append(CheckRow("exact length", f"not honoured: {why}", "fail"))
        rows.append(CheckRow("comparable", "no: a run would be marked not comparable", "warn"))
    return rows


def check_config(config: RunConfig) -> CheckReport:
    """The pre-flight of `config` as report rows, starting the embedded simulator for the check
    when no endpoint is given. Blocking (call it from a worker thread); never raises: every
    failure is a row saying what was tried and what came back."""
    sim = None
    try:
        if config.endpoint is None:
            sim = start_embedded(config)
        base_url = sim.base_url if sim is not None else str(config.endpoint)

        async def run() -> Preflight:
            client = StreamClient(
                base_url, api_key=config.api_key(), max_connections=4, connect_timeout=10.0, read_timeout=60.0
            )
            try:
                return await preflight(
                    client, config.model, exact_length=config.exact_length, embedded=sim is not None
                )
            finally:
                await client.aclose()

        return CheckReport(report_rows(asyncio.run(run())))
    except PreflightError as e:
        return CheckReport([CheckRow("endpoint", str(e), "fail")])
    except Exception as e:  # every failure is a row of the report, never an exception
        return CheckReport([CheckRow("check", f"{type(e).__name__}: {e}", "fail")])
    finally:
        if sim is not None:
            sim.close()
