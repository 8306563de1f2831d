"""Fetch and parse Prometheus text exposition (DCGM exporter, inference servers' /metrics).

Parsing is prometheus_client's own parser. Two of its habits are evened out here so callers can
look metrics up by the name the exporter documents:
- a counter declared without the `_total` suffix (DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION) comes back
  with `_total` appended, while `vllm:prompt_tokens_total` keeps its own; both are stored under
  the name without `_total`, so look counters up without it;
- `_created` samples (counter creation timestamps) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from agentperf_tui.core.telemetry.base import TelemetryUnavailable

DEFAULT_TIMEOUT = httpx.Timeout(connect=2.0, read=3.0, write=2.0, pool=2.0)
"""Explicit timeouts: a stalled exporter costs one tick, never the sampler thread."""

MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PromSample:
    name: str
    """Metric name with any trailing `_total` removed."""
    labels: dict[str, str]
    value: float


def base_name(name: str) -> str:
    return name[: -len("_total")] if name.endswith("_total") else name


def parse_prometheus_text(text: str, source: str) -> list[PromSample]:
    """Every sample of `text`; raises TelemetryUnavailable naming `source` if it is not Prometheus text."""
    out: list[PromSample] = []
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name.endswith("_created"):
                    continue
                out.append(PromSample(base_name(s.name), dict(s.labels), float(s.value)))
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        first = text.lstrip()[:60].replace("\n", " ")
        raise TelemetryUnavailable(
            f"{source} did not return Prometheus text ({exc}); it starts with {first!r}"
        ) from exc
    return out


def fetch_text(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> str:
    """GET `url` and return its body; every failure becomes TelemetryUnavailable with a plain reason."""
    try:
        resp = client.get(url, headers=headers)
    except httpx.TimeoutException as exc:
        raise TelemetryUnavailable(f"{url}: timed out ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise TelemetryUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code != 200:
        hint = ""
        if resp.status_code == 404:
            hint = " (no metrics at this path)"
        elif resp.status_code in (401, 403):
            hint = " (refused: check the API key / access rules)"
        raise TelemetryUnavailable(f"{url}: HTTP {resp.status_code}{hint}")
    if len(resp.content) > MAX_BODY_BYTES:
        raise TelemetryUnavailable(f"{url}: response of {len(resp.content)} bytes is too large for metrics")
    return resp.text


def make_client(timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.Client:
    # One connection is all a scraper needs.
    return httpx.Client(
        timeout=timeout,
        limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
        follow_redirects=True,
    )
