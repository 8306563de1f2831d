"""Local GPU telemetry through NVML (`import pynvml`, provided by nvidia-ml-py).

Each field is queried on its own (query-with-default): a field the GPU does not support, or
that needs privileges, reads as None and the other fields still arrive. A field that answered
NotSupported / NoPermission once is not asked again. Units: NVML reports power and limits in mW
and the energy counter in mJ (since the driver was loaded); GpuSample carries W and J.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from agentperf_tui.core.telemetry.base import GpuSample, SourceStatus, TelemetryUnavailable

log = logging.getLogger(__name__)

NO_DRIVER_HINT = (
    "the console often runs on a head node without GPUs: read the GPU nodes with "
    "--telemetry dcgm:http://NODE:9400/metrics"
)


def load_pynvml() -> ModuleType:
    """Import pynvml; raises TelemetryUnavailable if the bindings are not installed."""
    try:
        with warnings.catch_warnings():
            # The `pynvml` PyPI wrapper warns that it is deprecated in favour of nvidia-ml-py,
            # which provides this same module.
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*pynvml.*deprecated.*")
            return importlib.import_module("pynvml")
    except ImportError as exc:
        raise TelemetryUnavailable(f"NVML bindings not installed (pip install nvidia-ml-py): {exc}") from exc


def _init_reason(nv: ModuleType, exc: Exception) -> str:
    code = getattr(exc, "value", None)
    if code == getattr(nv, "NVML_ERROR_LIBRARY_NOT_FOUND", object()):
        return f"NVML library (libnvidia-ml.so.1) not found: no NVIDIA driver on this host; {NO_DRIVER_HINT}"
    if code == getattr(nv, "NVML_ERROR_DRIVER_NOT_LOADED", object()):
        return f"NVIDIA driver not loaded on this host; {NO_DRIVER_HINT}"
    if code == getattr(nv, "NVML_ERROR_NO_PERMISSION", object()):
        return "no permission to initialise NVML (check /dev/nvidia* access for this user)"
    return f"NVML initialisation failed: {exc}"


class NvmlSource:
    """GPUs on this host. Blocking calls: use from the sampler's thread only."""

    simulated = False

    def __init__(self, indices: Sequence[int] | None = None) -> None:
        self.indices: tuple[int, ...] | None = None if indices is None else tuple(indices)
        self.name = "nvml" if indices is None else "nvml:" + ",".join(str(i) for i in self.indices or ())
        self._nv: ModuleType | None = None
        self._handles: dict[int, Any] = {}
        self._skip: set[tuple[int, str]] = set()
        self._initialised = False

    def open(self) -> SourceStatus:
        try:
            nv = load_pynvml()
        except TelemetryUnavailable as exc:
            return SourceStatus(self.name, available=False, reason=str(exc))
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            return SourceStatus(self.name, available=False, reason=_init_reason(nv, exc))
        except OSError as exc:  # a broken library file, not an NVML error code
            return SourceStatus(self.name, available=False, reason=f"NVML library failed to load: {exc}")
        self._nv = nv
        self._initialised = True
        try:
            count = int(nv.nvmlDeviceGetCount())
        except nv.NVMLError as exc:
            self.close()
            return SourceStatus(self.name, available=False, reason=f"NVML cannot count GPUs: {exc}")
        if count == 0:
            self.close()
            return SourceStatus(
                self.name, available=False, reason=f"NVML found no GPU on this host; {NO_DRIVER_HINT}"
            )
        wanted = self.indices if self.indices is not None else tuple(range(count))
        missing = [i for i in wanted if not 0 <= i < count]
        if missing:
            self.close()
            return SourceStatus(
                self.name,
                available=False,
                reason=f"GPU index {missing[0]} not present: this host has {count} GPU(s), "
                f"indices 0-{count - 1}",
            )
        problems: list[str] = []
        for i in wanted:
            try:
                self._handles[i] = nv.nvmlDeviceGetHandleByIndex(i)
            except nv.NVMLError as exc:
                problems.append(f"GPU {i}: {exc}")
        if not self._handles:
            self.close()
            return SourceStatus(self.name, available=False, reason="; ".join(problems))
        no_counter = [
            i
            for i in self._handles
            if self._read(i, "energy", nv.nvmlDeviceGetTotalEnergyConsumption) is None
        ]
        if no_counter:
            problems.append(
                "no energy counter on GPU "
                + ",".join(map(str, no_counter))
                + ": window energy integrates power"
            )
        return SourceStatus(
            self.name,
            available=True,
            reason="; ".join(problems) or None,
            gpus=tuple(str(i) for i in self._handles),
        )

    def _read(self, index: int, field: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Query one field; None when unsupported/forbidden (remembered) or on any other NVML error."""
        nv = self._nv
        assert nv is not None
        if (index, field) in self._skip:
            return None
        try:
            return fn(self._handles[index], *args)
        except nv.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code in (nv.NVML_ERROR_NOT_SUPPORTED, nv.NVML_ERROR_NO_PERMISSION):
                self._skip.add((index, field))
                log.info("nvml GPU %d: %s not available (%s)", index, field, exc)
                return None
            if code == nv.NVML_ERROR_GPU_IS_LOST:
                raise
            return None

    def sample(self, t: float) -> list[GpuSample]:
        nv = self._nv
        if nv is None or not self._handles:
            raise TelemetryUnavailable("NVML not initialised")
        out: list[GpuSample] = []
        lost: list[str] = []
        for i in self._handles:
            try:
                power_mw = self._read(i, "power", nv.nvmlDeviceGetPowerUsage)
                energy_mj = self._read(i, "energy", nv.nvmlDeviceGetTotalEnergyConsumption)
                limit_mw = self._read(i, "limit", nv.nvmlDeviceGetEnforcedPowerLimit)
                util = self._read(i, "util", nv.nvmlDeviceGetUtilizationRates)
                mem = self._read(i, "mem", nv.nvmlDeviceGetMemoryInfo)
                temp = self._read(i, "temp", nv.nvmlDeviceGetTemperature, nv.NVML_TEMPERATURE_GPU)
                sm = self._read(i, "sm_clock", nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_SM)
            except nv.NVMLError as exc:
                lost.append(f"GPU {i}: {exc}")
                continue
            out.append(
                GpuSample(
                    t=t,
                    gpu=str(i),
                    power_w=None if power_mw is None else power_mw / 1000.0,
                    energy_j=None if energy_mj is None else energy_mj / 1000.0,
                    power_limit_w=None if limit_mw is None else limit_mw / 1000.0,
                    util_pct=None if util is None else float(util.gpu),
                    mem_used_bytes=None if mem is None else int(mem.used),
                    temp_c=None if temp is None else float(temp),
                    sm_clock_mhz=None if sm is None else float(sm),
                )
            )
        if lost:
            log.warning("nvml: %s", "; ".join(lost))
        if not out:
            raise TelemetryUnavailable("; ".join(lost) or "NVML returned no readings")
        if all(s.power_w is None and s.energy_j is None for s in out):
            raise TelemetryUnavailable("NVML gives neither power nor energy for the selected GPUs")
        return out

    def close(self) -> None:
        nv = self._nv
        self._handles.clear()
        self._skip.clear()
        if nv is not None and self._initialised:
            try:
                nv.nvmlShutdown()
            except nv.NVMLError as exc:
                log.debug("nvmlShutdown: %s", exc)
        self._initialised = False
        self._nv = None
