"""NVML source. No GPU exists here, so NVML itself is the one thing replaced: a fake with pynvml's
call surface is patched onto the real pynvml module, raising pynvml's real NVMLError classes."""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from agentperf_tui.core.telemetry.base import TelemetryUnavailable
from agentperf_tui.core.telemetry.nvml import NvmlSource

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import pynvml


@dataclass
class FakeGpu:
    power_mw: int = 612_345
    energy_mj: int = 9_876_543_210
    limit_mw: int = 700_000
    util: int = 93
    mem_used: int = 70 * 2**30
    temp: int = 66
    sm_mhz: int = 1755
    errors: dict[str, int] = field(default_factory=dict)
    """field name -> NVML error code to raise when it is read."""


class FakeNvml:
    def __init__(self, gpus: list[FakeGpu], init_error: int | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.calls: dict[str, int] = {}
        self.initialised = False

    def _get(self, handle: int, name: str, value: Any) -> Any:
        self.calls[name] = self.calls.get(name, 0) + 1
        code = self.gpus[handle].errors.get(name)
        if code is not None:
            raise pynvml.NVMLError(code)
        return value

    def install(self, mp: pytest.MonkeyPatch) -> None:
        def init() -> None:
            if self.init_error is not None:
                raise pynvml.NVMLError(self.init_error)
            self.initialised = True

        def shutdown() -> None:
            self.initialised = False

        def handle(i: int) -> int:
            if not 0 <= i < len(self.gpus):
                raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            return i

        g = self.gpus
        fns: dict[str, Any] = {
            "nvmlInit": init,
            "nvmlShutdown": shutdown,
            "nvmlDeviceGetCount": lambda: len(self.gpus),
            "nvmlDeviceGetHandleByIndex": handle,
            "nvmlDeviceGetPowerUsage": lambda h: self._get(h, "power", g[h].power_mw),
            "nvmlDeviceGetTotalEnergyConsumption": lambda h: self._get(h, "energy", g[h].energy_mj),
            "nvmlDeviceGetEnforcedPowerLimit": lambda h: self._get(h, "limit", g[h].limit_mw),
            "nvmlDeviceGetUtilizationRates": lambda h: self._get(
                h, "util", SimpleNamespace(gpu=g[h].util, memory=40)
            ),
            "nvmlDeviceGetMemoryInfo": lambda h: self._get(
                h, "mem", SimpleNamespace(total=80 * 2**30, used=g[h].mem_used, free=0)
            ),
            "nvmlDeviceGetTemperature": lambda h, sensor: self._get(h, "temp", g[h].temp),
            "nvmlDeviceGetClockInfo": lambda h, clock: self._get(h, "sm_clock", g[h].sm_mhz),
        }
        for name, fn in fns.items():
            assert hasattr(pynvml, name), f"pynvml has no {name}: the fake drifted from the real surface"
            mp.setattr(pynvml, name, fn)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    f = FakeNvml([FakeGpu(), FakeGpu(power_mw=301_000, energy_mj=5_000)])
    f.install(monkeypatch)
    return f


def test_reads_all_fields_in_watts_and_joules(fake: FakeNvml) -> None:
    src = NvmlSource()
    status = src.open()
    assert status.available and status.gpus == ("0", "1") and status.reason is None
    s0, s1 = src.sample(3.0)
    assert s0.gpu == "0" and s0.t == 3.0
    assert s0.power_w == pytest.approx(612.345)
    assert s0.energy_j == pytest.approx(9_876_543.21)
    assert s0.power_limit_w == 700.0
    assert s0.util_pct == 93 and s0.temp_c == 66 and s0.sm_clock_mhz == 1755
    assert s0.mem_used_bytes == 70 * 2**30
    assert s1.power_w == 301.0 and s1.energy_j == 5.0
    src.close()
    assert not fake.initialised


def test_gpus_selectable_by_index(fake: FakeNvml) -> None:
    src = NvmlSource([1])
    assert src.name == "nvml:1"
    assert src.open().gpus == ("1",)
    (s,) = src.sample(0.0)
    assert s.gpu == "1" and s.power_w == 301.0


def test_index_not_present_is_unavailable(fake: FakeNvml) -> None:
    status = NvmlSource([0, 3]).open()
    assert not status.available
    assert status.reason is not None
    assert "GPU index 3 not present" in status.reason and "2 GPU" in status.reason
    assert not fake.initialised


def test_one_failing_field_keeps_the_others(fake: FakeNvml) -> None:
    fake.gpus[0].errors = {"temp": pynvml.NVML_ERROR_NOT_SUPPORTED, "util": pynvml.NVML_ERROR_UNKNOWN}
    src = NvmlSource()
    src.open()
    for _ in range(3):
        s0, _s1 = src.sample(0.0)
    assert s0.temp_c is None and s0.util_pct is None
    assert s0.power_w == pytest.approx(612.345) and s0.sm_clock_mhz == 1755
    # NotSupported is remembered (asked once, for GPU 0), a transient error is asked again
    assert fake.calls["temp"] == 1 + 3  # GPU 0 once, GPU 1 on every sample
    assert fake.calls["util"] == 3 + 3


def test_no_permission_on_energy_counter_falls_back_to_power(fake: FakeNvml) -> None:
    fake.gpus[1].errors = {"energy": pynvml.NVML_ERROR_NO_PERMISSION}
    src = NvmlSource()
    status = src.open()
    assert status.available
    assert status.reason is not None and "no energy counter on GPU 1" in status.reason
    _s0, s1 = src.sample(0.0)
    assert s1.energy_j is None and s1.power_w == 301.0


def test_no_permission_at_init_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([FakeGpu()], init_error=pynvml.NVML_ERROR_NO_PERMISSION).install(monkeypatch)
    status = NvmlSource().open()
    assert not status.available
    assert status.reason is not None and "no permission" in status.reason


def test_driver_not_loaded_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([FakeGpu()], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED).install(monkeypatch)
    status = NvmlSource().open()
    assert not status.available and status.reason is not None and "driver not loaded" in status.reason


def test_no_gpu_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([]).install(monkeypatch)
    status = NvmlSource().open()
    assert not status.available and status.reason is not None and "no GPU" in status.reason


def test_lost_gpu_drops_only_that_gpu_until_all_are_lost(fake: FakeNvml) -> None:
    src = NvmlSource()
    src.open()
    fake.gpus[0].errors = {"power": pynvml.NVML_ERROR_GPU_IS_LOST}
    (s,) = src.sample(0.0)
    assert s.gpu == "1"
    fake.gpus[1].errors = {"power": pynvml.NVML_ERROR_GPU_IS_LOST}
    with pytest.raises(TelemetryUnavailable, match="GPU is lost"):
        src.sample(0.0)


def test_real_nvml_library_missing_on_this_host() -> None:
    """Not faked: this host has no NVIDIA driver, so the real nvmlInit fails to load its library."""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError_LibraryNotFound:
        pass
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this host has an NVML library: the missing-library state cannot be observed")
    status = NvmlSource().open()
    assert not status.available
    assert status.reason is not None
    assert "libnvidia-ml.so.1" in status.reason and "dcgm:" in status.reason


def test_bindings_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml now raises ImportError
    status = NvmlSource().open()
    assert not status.available
    assert status.reason is not None and "nvidia-ml-py" in status.reason
