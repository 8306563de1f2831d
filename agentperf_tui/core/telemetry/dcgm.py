"""Remote GPU telemetry from an NVIDIA DCGM exporter's /metrics (Prometheus text).

Fields read (names and units as dcgm-exporter's default collector CSV documents them):
DCGM_FI_DEV_POWER_USAGE (W), DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION (mJ, counter),
DCGM_FI_DEV_POWER_MGMT_LIMIT / DCGM_FI_DEV_ENFORCED_POWER_LIMIT (W), DCGM_FI_DEV_GPU_UTIL (%),
DCGM_FI_DEV_FB_USED (MiB), DCGM_FI_DEV_GPU_TEMP (C), DCGM_FI_DEV_SM_CLOCK (MHz).
GPUs are keyed "host:port/<gpu label>". DCGM "blank" sentinels (a field the GPU does not support)
read as missing, not as a huge number.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

from agentperf_tui.core.telemetry.base import GpuSample, SourceStatus, TelemetryUnavailable
from agentperf_tui.core.telemetry.promtext import (
    DEFAULT_TIMEOUT,
    PromSample,
    fetch_text,
    make_client,
    parse_prometheus_text,
)

POWER = "DCGM_FI_DEV_POWER_USAGE"
ENERGY = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
POWER_LIMITS = ("DCGM_FI_DEV_ENFORCED_POWER_LIMIT", "DCGM_FI_DEV_POWER_MGMT_LIMIT")
UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
TEMP = "DCGM_FI_DEV_GPU_TEMP"
SM_CLOCK = "DCGM_FI_DEV_SM_CLOCK"

_INT32_BLANK = 0x7FFFFFF0
_INT64_BLANK = float(0x7FFFFFFFFFFFFFF0)
_MIB = 1024 * 1024


def _value(v: float, *, int64: bool = False) -> float | None:
    """None for NaN, negatives and DCGM blank sentinels (INT32/INT64/FP64 blank and their codes)."""
    if math.isnan(v) or v < 0:
        return None
    if int64:
        return None if v >= _INT64_BLANK * 0.999 else v
    return None if v >= _INT32_BLANK else v


def normalise_url(url: str) -> str:
    """`h1:9400` -> `http://h1:9400/metrics`; a URL with no path gets `/metrics`."""
    raw = url.strip()
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) exporter URL: {url!r} (expected e.g. http://node1:9400/metrics)")
    path = parts.path if parts.path not in ("", "/") else "/metrics"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


@dataclass(slots=True)
class _Gpu:
    values: dict[str, float] = field(default_factory=dict)
    hostname: str | None = None


def parse_dcgm(samples: list[PromSample], key_prefix: str, t: float) -> list[GpuSample]:
    """One GpuSample per GPU found in an exporter's samples, sorted by key.

    A GPU is the `gpu` label (its index on that node; UUID when the label is absent). Device-level
    rows win over MIG instance rows (those carry GPU_I_ID); for the rest the first row wins.
    """
    wanted = {POWER, ENERGY, UTIL, FB_USED, TEMP, SM_CLOCK, *POWER_LIMITS}
    gpus: dict[str, _Gpu] = {}
    ordered = sorted(samples, key=lambda s: bool(s.labels.get("GPU_I_ID")))
    for s in ordered:
        if s.name not in wanted:
            continue
        ident = s.labels.get("gpu") or s.labels.get("UUID")
        if not ident:
            continue
        g = gpus.setdefault(ident, _Gpu(hostname=s.labels.get("Hostname")))
        g.values.setdefault(s.name, s.value)
    out: list[GpuSample] = []
    for ident in sorted(gpus, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)):
        v = gpus[ident].values
        energy_mj = _value(v[ENERGY], int64=True) if ENERGY in v else None
        power = _value(v[POWER]) if POWER in v else None
        limit = next((_value(v[n]) for n in POWER_LIMITS if n in v and _value(v[n]) is not None), None)
        fb = _value(v[FB_USED]) if FB_USED in v else None
        out.append(
            GpuSample(
                t=t,
                gpu=f"{key_prefix}/{ident}",
                power_w=power,
                energy_j=None if energy_mj is None else energy_mj / 1000.0,
                power_limit_w=limit,
                util_pct=_value(v[UTIL]) if UTIL in v else None,
                mem_used_bytes=None if fb is None else int(fb * _MIB),
                temp_c=_value(v[TEMP]) if TEMP in v else None,
                sm_clock_mhz=_value(v[SM_CLOCK]) if SM_CLOCK in v else None,
            )
        )
    return out


class DcgmSource:
    """One dcgm-exporter endpoint. Blocking (httpx sync client): call from the sampler's thread only."""

    simulated = False

    def __init__(
        self,
        url: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        client_factory: Callable[[], httpx.Client] | None = None,
    ) -> None:
        self.url = normalise_url(url)
        self.name = f"dcgm {self.url}"
        self.key_prefix = urlsplit(self.url).netloc
        self._timeout = timeout
        self._client_factory = client_factory or (lambda: make_client(self._timeout))
        self._client: httpx.Client | None = None

    def open(self) -> SourceStatus:
        try:
            samples = self.sample(0.0)
        except TelemetryUnavailable as exc:
            self.close()
            return SourceStatus(self.name, available=False, reason=str(exc))
        gpus = tuple(s.gpu for s in samples)
        reason = None
        if all(s.energy_j is None for s in samples):
            reason = (
                f"{ENERGY} not exported: window energy will integrate {POWER} "
                "(add the field to the exporter's collector CSV for counter-based energy)"
            )
        return SourceStatus(self.name, available=True, reason=reason, gpus=gpus)

    def sample(self, t: float) -> list[GpuSample]:
        if self._client is None:
            self._client = self._client_factory()
        text = fetch_text(self._client, self.url, headers={"Accept": "text/plain"})
        samples = parse_prometheus_text(text, self.url)
        gpus = parse_dcgm(samples, self.key_prefix, t)
        if not gpus:
            raise TelemetryUnavailable(f"{self.url}: no DCGM GPU metrics (is this a dcgm-exporter /metrics?)")
        if all(g.power_w is None and g.energy_j is None for g in gpus):
            raise TelemetryUnavailable(f"{self.url}: exports neither {POWER} nor {ENERGY}")
        return gpus

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
