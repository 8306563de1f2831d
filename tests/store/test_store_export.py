"""JSON and CSV exports hold exactly what the store holds."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import orjson
import pytest
from store_factories import make_level, make_result, make_sample, make_summary, new_run

from agentperf_tui.core.store import RunStore, export_csv, export_json


@pytest.fixture
def filled(store: RunStore) -> str:
    run_id = new_run(store, note="export me")
    store.add_requests(run_id, [make_result(i, ok=i != 2) for i in range(5)], level=0)
    store.add_requests(run_id, [make_result(9, output_tokens=None, client_output_tokens=41)], level=None)
    level = make_level(4)
    store.put_level(run_id, level)
    store.add_telemetry(
        run_id, [make_sample(1.0), make_sample(2.0, power_w=None)], source="dcgm http://n1:9400"
    )
    store.add_server_metrics(run_id, [(1.5, {"running": 4.0})])
    store.annotate(run_id, 2.0, 'a, "quoted" note')
    store.finish_run(run_id, status="finished", summary=make_summary([level], n_star=4, gpu_count=8))
    store.flush()
    return run_id


def test_json_export_content(db: Path, filled: str, tmp_path: Path) -> None:
    out = export_json(db, filled[:12], tmp_path)  # a folder: named after the run
    assert out == tmp_path / f"{filled}.json"
    doc = orjson.loads(out.read_bytes())
    assert doc["format"] == "agentperf-run-export/1"
    assert (
        doc["run"]["id"] == filled
        and doc["run"]["status"] == "finished"
        and doc["run"]["note"] == "export me"
    )
    assert doc["run"]["result_n"] == 4 and doc["run"]["started_utc"].endswith("+00:00")
    assert doc["config"]["gpu_count"] == 8
    summary = doc["summary"]
    assert summary["schema"] == "agentperf-summary/2" and summary["gpu_count"] == 8
    assert summary["results"][0]["n_star"] == 4 and summary["results"][0]["agents_per_gpu"] == 0.5
    [level] = doc["levels"]
    assert level["index"] == 0 and level["n"] == 4 and level["speed_p25_bounds"] == [110.0, 130.0]
    assert level["outcome"] == "measured" and level["role"] == "ramp"
    assert level["power_note"] is None and level["trajectories_completed"] == 31
    reqs = doc["requests"]
    assert len(reqs) == 6
    assert reqs[0] == {
        "level": 0, "agent": 0, "trajectory": "traj-0", "replay": 0, "turn": 0, "t_intended": 0.0,
        "t_sent": 0.002, "t_first_token": 0.3, "t_last_token": 1.3, "t_end": 1.4, "ok": True, "error": None,
        "http_status": 200, "prompt_tokens": 1000, "cached_tokens": 800, "output_tokens": 101,
        "client_output_tokens": 101, "requested_output_tokens": 101, "reasoning_tokens": 7,
    }  # fmt: skip
    assert reqs[2]["ok"] is False and reqs[2]["http_status"] == 503 and reqs[2]["t_first_token"] is None
    assert reqs[5]["level"] is None and reqs[5]["output_tokens"] is None
    assert [t["power_w"] for t in doc["telemetry"]] == [651.0, None]
    assert doc["telemetry"][0]["source"] == "dcgm http://n1:9400"
    assert doc["server_metrics"] == [{"t": 1.5, "name": "running", "value": 4.0}]
    assert [a["text"] for a in doc["annotations"]] == ['a, "quoted" note']


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_csv_export_content(db: Path, filled: str, tmp_path: Path) -> None:
    out_dir = tmp_path / "csv" / "deeper"
    paths = export_csv(db, filled, out_dir)
    assert sorted(p.name for p in paths) == sorted(
        ["run.json", "requests.csv", "levels.csv", "telemetry.csv", "server_metrics.csv", "annotations.csv"]
    )
    assert all(p.parent == out_dir for p in paths)
    assert not list(out_dir.glob(".*"))  # no temporary files left behind

    reqs = _read(out_dir / "requests.csv")
    assert len(reqs) == 6
    ok, failed, outside = reqs[0], reqs[2], reqs[5]
    assert ok["ok"] == "1" and float(ok["ttft_s"]) == pytest.approx(0.3)
    assert float(ok["output_speed_tok_s"]) == pytest.approx(100.0)
    assert float(ok["client_lag_s"]) == pytest.approx(0.002)
    assert failed["ok"] == "0" and failed["ttft_s"] == "inf" and failed["output_speed_tok_s"] == "0.0"
    assert failed["t_first_token"] == "" and failed["error"] == "HTTP 503: overloaded"
    assert outside["level"] == "" and outside["output_tokens"] == ""
    assert float(outside["output_speed_tok_s"]) == pytest.approx(40.0)  # client count when no usage

    [level] = _read(out_dir / "levels.csv")
    assert (level["n"], level["speed_p25_lo"], level["ttft_p95_hi"], level["verdict"]) == (
        "4",
        "110.0",
        "2.5",
        "pass",
    )
    tel = _read(out_dir / "telemetry.csv")
    assert [t["power_w"] for t in tel] == ["651.0", ""] and tel[0]["gpu"] == "0"
    assert _read(out_dir / "server_metrics.csv") == [{"t": "1.5", "name": "running", "value": "4.0"}]
    assert _read(out_dir / "annotations.csv")[0]["text"] == 'a, "quoted" note'
    meta = orjson.loads((out_dir / "run.json").read_bytes())
    assert meta["run"]["id"] == filled and meta["summary"]["gpu_count"] == 8 and "requests" not in meta
    assert math.isclose(float(reqs[1]["t_intended"]), 1.0)
