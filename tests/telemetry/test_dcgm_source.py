"""DCGM exporter source against a real HTTP server on 127.0.0.1 serving the documented format."""

from __future__ import annotations

import socket

import httpx
import pytest

from agentperf_tui.core.telemetry.base import TelemetryUnavailable
from agentperf_tui.core.telemetry.dcgm import DcgmSource, normalise_url, parse_dcgm
from agentperf_tui.core.telemetry.promtext import parse_prometheus_text

from .conftest import MetricsServer
from .formats import DcgmGpu, dcgm_text


def test_reads_every_gpu_with_units_converted(metrics_server: MetricsServer) -> None:
    gpus = [DcgmGpu(0), DcgmGpu(1, power_w=655.5, energy_mj=2.5e9)]
    url = metrics_server.serve("/metrics", dcgm_text(gpus))
    src = DcgmSource(url)
    status = src.open()
    assert status.available and status.reason is None
    netloc = url.split("//")[1].split("/")[0]
    assert status.gpus == (f"{netloc}/0", f"{netloc}/1")
    s0, s1 = src.sample(12.5)
    src.close()
    assert s0.t == 12.5
    assert s0.power_w == 400.0 and s0.energy_j == 1000.0  # mJ -> J
    assert s1.power_w == 655.5 and s1.energy_j == 2.5e6
    assert s0.util_pct == 87 and s0.temp_c == 61 and s0.sm_clock_mhz == 1980
    assert s0.mem_used_bytes == 61440 * 1024 * 1024  # MiB -> bytes
    assert s0.power_limit_w == 700.0


def test_blank_sentinels_read_as_missing() -> None:
    text = dcgm_text([DcgmGpu(0, temp=None, util=None, energy_mj=None)])
    (s,) = parse_dcgm(parse_prometheus_text(text, "test"), "node:9400", 1.0)
    assert s.temp_c is None and s.util_pct is None and s.energy_j is None
    assert s.power_w == 400.0


def test_missing_energy_field_is_reported_and_power_still_read(metrics_server: MetricsServer) -> None:
    text = dcgm_text([DcgmGpu(0)], omit=("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",))
    url = metrics_server.serve("/metrics", text)
    src = DcgmSource(url)
    status = src.open()
    assert status.available
    assert status.reason is not None and "integrate" in status.reason
    (s,) = src.sample(0.0)
    assert s.energy_j is None and s.power_w == 400.0
    src.close()


def test_mig_instance_rows_do_not_override_device_rows() -> None:
    text = (
        "# TYPE DCGM_FI_DEV_POWER_USAGE gauge\n"
        'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-a",GPU_I_PROFILE="1g.10gb",GPU_I_ID="7"} 1.0\n'
        'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-a"} 321.0\n'
    )
    (s,) = parse_dcgm(parse_prometheus_text(text, "t"), "h:9400", 0.0)
    assert s.power_w == 321.0


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("h1:9400", "http://h1:9400/metrics"),
        ("http://h1:9400", "http://h1:9400/metrics"),
        ("http://h1:9400/", "http://h1:9400/metrics"),
        ("https://h1/custom/path", "https://h1/custom/path"),
    ],
)
def test_normalise_url(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


def test_bad_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not an http"):
        normalise_url("ftp://x/metrics")


def test_404_is_unavailable_with_reason(metrics_server: MetricsServer) -> None:
    src = DcgmSource(metrics_server.base + "/nothing-here")
    status = src.open()
    assert not status.available
    assert status.reason is not None and "HTTP 404" in status.reason


def test_garbage_is_unavailable_with_reason(metrics_server: MetricsServer) -> None:
    url = metrics_server.serve("/metrics", "<html><body>login required</body></html>")
    status = DcgmSource(url).open()
    assert not status.available
    assert status.reason is not None and "not return Prometheus text" in status.reason


def test_prometheus_text_without_dcgm_fields_is_unavailable(metrics_server: MetricsServer) -> None:
    url = metrics_server.serve("/metrics", "# TYPE node_load1 gauge\nnode_load1 0.5\n")
    status = DcgmSource(url).open()
    assert not status.available
    assert status.reason is not None and "no DCGM GPU metrics" in status.reason


def test_exporter_timeout_is_unavailable_quickly(metrics_server: MetricsServer) -> None:
    url = metrics_server.serve("/metrics", dcgm_text([DcgmGpu(0)]), delay_s=2.0)
    src = DcgmSource(url, timeout=httpx.Timeout(0.3))
    with pytest.raises(TelemetryUnavailable, match="timed out"):
        src.sample(0.0)
    src.close()


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    status = DcgmSource(f"http://127.0.0.1:{port}/metrics").open()
    assert not status.available
    assert status.reason is not None and "ConnectError" in status.reason
