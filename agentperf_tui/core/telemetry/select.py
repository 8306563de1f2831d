"""Turn a power-source spec (command line / config) into telemetry sources.

Specs:
  none                                    no power telemetry (agents per megawatt not measured)
  nvml                                    every GPU on this host
  nvml:0,1                                GPUs 0 and 1 on this host
  dcgm:http://h1:9400/metrics,http://h2:9400/metrics
                                          one or more DCGM exporters (scheme and /metrics optional)
Several specs can be combined with "+", e.g. "nvml:0+dcgm:h2:9400". The simulator's power model
is attached by the engine when it runs the embedded simulator, not through a spec.
"""

from __future__ import annotations

from agentperf_tui.core.telemetry.base import TelemetrySource
from agentperf_tui.core.telemetry.dcgm import DcgmSource
from agentperf_tui.core.telemetry.nvml import NvmlSource

SPEC_HELP = (
    '"none", "nvml", "nvml:0,1" (GPU indices) or "dcgm:http://node1:9400/metrics,http://node2:9400/metrics"; '
    'combine with "+"'
)


class TelemetrySpecError(ValueError):
    def __init__(self, spec: str, message: str) -> None:
        super().__init__(f"power source spec {spec!r}: {message}; expected {SPEC_HELP}")
        self.spec = spec


def _parse_one(part: str, whole: str) -> list[TelemetrySource]:
    kind, _, arg = part.partition(":")
    kind = kind.strip().lower()
    arg = arg.strip()
    if kind == "none":
        if arg:
            raise TelemetrySpecError(whole, f"'none' takes no argument, got {arg!r}")
        return []
    if kind == "nvml":
        if not arg:
            return [NvmlSource()]
        indices: list[int] = []
        for item in arg.split(","):
            item = item.strip()
            if not item.isdigit():
                raise TelemetrySpecError(whole, f"GPU index {item!r} is not a non-negative integer")
            if int(item) in indices:
                raise TelemetrySpecError(whole, f"GPU index {item} listed twice")
            indices.append(int(item))
        return [NvmlSource(indices)]
    if kind == "dcgm":
        urls = [u.strip() for u in arg.split(",") if u.strip()]
        if not urls:
            raise TelemetrySpecError(whole, "dcgm needs at least one exporter URL after 'dcgm:'")
        sources: list[TelemetrySource] = []
        for u in urls:
            try:
                sources.append(DcgmSource(u))
            except ValueError as exc:
                raise TelemetrySpecError(whole, str(exc)) from exc
        if len({s.name for s in sources}) != len(sources):
            raise TelemetrySpecError(whole, "the same exporter URL is listed twice")
        return sources
    raise TelemetrySpecError(whole, f"unknown source kind {kind!r}")


def make_sources(spec: str) -> list[TelemetrySource]:
    """Sources for `spec`; raises TelemetrySpecError (a ValueError) naming the bad part."""
    whole = spec.strip()
    if not whole:
        raise TelemetrySpecError(spec, "empty (use 'none' for no power telemetry)")
    sources: list[TelemetrySource] = []
    for part in whole.split("+"):
        if not part.strip():
            raise TelemetrySpecError(spec, "empty part around '+'")
        sources.extend(_parse_one(part.strip(), spec))
    if sum(isinstance(s, NvmlSource) for s in sources) > 1:
        raise TelemetrySpecError(spec, "nvml listed more than once (give all GPU indices in one 'nvml:')")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise TelemetrySpecError(spec, "a source is listed twice")
    if "none" in [p.strip().lower() for p in whole.split("+")] and sources:
        raise TelemetrySpecError(spec, "'none' cannot be combined with other sources")
    return sources
