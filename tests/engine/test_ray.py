"""Load workers as Ray actors on a real local Ray cluster: a head and a second node, each a set of
Ray processes of its own, all on 127.0.0.1 (Ray's cluster utilities start them; the test stops
exactly those). A real search runs through it against the embedded simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from agentperf_tui.core.summary.model import RunSummary

LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
"""Ray binds to the loopback address (127.0.0.1) only, instead of this machine's network address.
Ray reads it when it is first imported, so it is set before the import below (only Ray reads it)."""
os.environ.update(LOOPBACK)

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'agentperf-tui[ray]'")

QUICK = Path(__file__).resolve().parents[2] / "trajectories" / "quick"


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        c.add_node(num_cpus=1)
        c.wait_for_nodes()
        yield c.address
    finally:
        c.shutdown()


@pytest.mark.slow
def test_a_search_runs_through_ray_actors_on_two_nodes(cluster: str, tmp_path: Path) -> None:
    assert cluster.startswith("127.0.0.1:")
    out = subprocess.run(
        [
            sys.executable, "-m", "agentperf_tui", "search", "--headless", "--ray", cluster,
            "--trajectories", str(QUICK), "--tier", "10/10", "--start", "16", "--max", "32",
            "--warmup", "2", "--fast-min", "8", "--store", str(tmp_path / "runs.sqlite3"),
            "--telemetry", "sim", "--progress-every", "5",
        ],
        capture_output=True, timeout=400, env={**os.environ, **LOOPBACK},
    )  # fmt: skip
    err = out.stderr.decode()
    assert out.returncode == 0, err[-3000:]
    s = RunSummary.model_validate(orjson.loads(out.stdout))
    assert s.status == "finished" and s.load.kind == "ray" and s.load.workers == 2
    # each worker's clock offset was measured and is known to well under a millisecond here
    assert len(s.load.clock_offsets) == 2
    assert all(not o.shared and o.uncertainty_s < 0.01 for o in s.load.clock_offsets)
    assert "Ray cluster" in err and "2 nodes" in err
    result = s.result
    assert result is not None and result.n_star == 32 and result.capped
    assert s.requests.ok > 0 and s.requests.failed == 0 and not s.incidents
