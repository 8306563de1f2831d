from __future__ import annotations

import pytest

from agentperf_tui.core.telemetry.dcgm import DcgmSource
from agentperf_tui.core.telemetry.nvml import NvmlSource
from agentperf_tui.core.telemetry.select import TelemetrySpecError, make_sources


def test_none_means_no_sources() -> None:
    assert make_sources("none") == []
    assert make_sources(" NONE ") == []


def test_nvml_all_and_by_index() -> None:
    (all_gpus,) = make_sources("nvml")
    assert isinstance(all_gpus, NvmlSource) and all_gpus.indices is None
    (some,) = make_sources("nvml:0, 3")
    assert isinstance(some, NvmlSource) and some.indices == (0, 3)


def test_dcgm_several_exporters() -> None:
    sources = make_sources("dcgm:http://h1:9400/metrics,h2:9400")
    assert [type(s) for s in sources] == [DcgmSource, DcgmSource]
    assert [s.name for s in sources] == ["dcgm http://h1:9400/metrics", "dcgm http://h2:9400/metrics"]


def test_combined_with_plus() -> None:
    sources = make_sources("nvml:0+dcgm:h2:9400")
    assert [type(s) for s in sources] == [NvmlSource, DcgmSource]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "empty"),
        ("gpu", "unknown source kind 'gpu'"),
        ("nvml:a", "GPU index 'a'"),
        ("nvml:-1", "GPU index '-1'"),
        ("nvml:1,1", "listed twice"),
        ("dcgm", "at least one exporter URL"),
        ("dcgm:", "at least one exporter URL"),
        ("dcgm:ftp://h/metrics", "not an http"),
        ("dcgm:h1:9400,http://h1:9400/metrics", "listed twice"),
        ("nvml+nvml:1", "more than once"),
        ("none+nvml", "cannot be combined"),
        ("nvml+", "empty part"),
        ("none:x", "takes no argument"),
    ],
)
def test_bad_specs_name_the_problem_and_the_forms(spec: str, fragment: str) -> None:
    with pytest.raises(TelemetrySpecError) as info:
        make_sources(spec)
    message = str(info.value)
    assert fragment in message
    assert "expected" in message and "dcgm:http://" in message
    assert isinstance(info.value, ValueError)
