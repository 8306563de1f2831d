"""Every table written by RunStore reads back exactly through load_run / list_runs."""

from __future__ import annotations

import contextlib
import math
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from store_factories import make_level, make_result, make_sample, make_summary, new_run

from agentperf_tui.core.store import (
    RunStore,
    StoreClosedError,
    StoreWriteError,
    list_runs,
    load_run,
    resolve_run_id,
)
from agentperf_tui.core.store.run_ids import RUN_ID_PATTERN
from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.summary.model import RunSummary


def test_run_row_round_trip(store: RunStore, db: Path) -> None:
    started = time.time()
    config = {"tier": {"speed_tok_s": 100.0, "ttft_s": 5.0}, "nested": {"a": [1, 2]}, "path": Path("/x/y")}
    run_id = new_run(store, config=config, started_wall=started, note="baseline", simulated=False)
    assert RUN_ID_PATTERN.match(run_id)
    level = make_level(4, speed_p25=math.nan, ttft_p95=math.inf, speed_p25_bounds=(math.nan, 1.5))
    summary = RunSummary(
        status="aborted", status_reason="stopped", levels=(level,), duration_s=float(np.float64(1.5))
    )
    store.finish_run(run_id, status="aborted", summary=summary)
    store.flush()

    run = load_run(db, run_id)
    assert run.config == {
        "tier": {"speed_tok_s": 100.0, "ttft_s": 5.0},
        "nested": {"a": [1, 2]},
        "path": "/x/y",
    }
    assert run.summary == summary, "the typed summary reads back as written"
    stored = run.summary.levels[0]
    assert math.isnan(stored.speed_p25) and stored.ttft_p95 == math.inf and stored.speed_p25_bounds[1] == 1.5
    info = run.info
    assert (info.id, info.endpoint, info.model, info.simulated) == (
        run_id, "http://127.0.0.1:8000/v1", "test-model", False,
    )  # fmt: skip
    assert info.started_wall == started
    assert info.status == info.stored_status == "aborted"
    assert info.finished_wall is not None and info.finished_wall >= started
    assert info.note == "baseline"
    assert info.result_n is None and info.result_final
    assert info.headline == "no passing level @ custom/100-5"


def test_requests_round_trip_including_missing_values(store: RunStore, db: Path) -> None:
    run_id = new_run(store)
    measured = [make_result(i, ok=i % 5 != 0) for i in range(40)]
    outside = [make_result(100, output_tokens=None, client_output_tokens=55, cached_tokens=None)]
    store.add_requests(run_id, measured[:25], level=0)
    store.add_requests(run_id, measured[25:], level=1)
    store.add_requests(run_id, outside, level=None)
    store.flush()

    req = load_run(db, run_id).requests
    assert len(req) == 41
    assert req.to_results() == [*measured, *outside]
    assert (
        list(req.level[:25]) == [0.0] * 25
        and list(req.level[25:40]) == [1.0] * 15
        and math.isnan(req.level[40])
    )
    assert len(req.for_level(1)) == 15 and len(req.for_level(None)) == 1
    # Vectorised figures match RequestResult's own definitions, failures included (inf / 0).
    originals = [*measured, *outside]
    np.testing.assert_array_equal(req.ttft(), [r.ttft for r in originals])
    np.testing.assert_allclose(req.output_speed(), [r.output_speed for r in originals])
    np.testing.assert_allclose(req.client_lag(), [r.client_lag for r in originals])
    assert req.error[0] == "HTTP 503: overloaded" and req.error[1] is None
    assert math.isnan(req.output_tokens[40]) and req.client_output_tokens[40] == 55


def test_nan_times_and_numpy_numbers_are_stored(store: RunStore, db: Path) -> None:
    run_id = new_run(store)
    odd = make_result(
        0, ok=False, t_sent=math.nan, t_end=math.nan, http_status=None, error="connect refused",
        agent_id=np.int64(3), prompt_tokens=np.int32(12), t_intended=np.float64(0.5),
    )  # fmt: skip
    store.add_requests(run_id, [odd], level=np.int64(2))  # type: ignore[arg-type]
    store.flush()
    req = load_run(db, run_id).requests
    assert math.isnan(req.t_sent[0]) and math.isnan(req.t_end[0]) and math.isnan(req.http_status[0])
    assert req.agent[0] == 3 and req.prompt_tokens[0] == 12 and req.level[0] == 2 and req.t_intended[0] == 0.5
    assert req.ttft()[0] == math.inf and req.output_speed()[0] == 0.0


def test_levels_upsert_and_round_trip(store: RunStore, db: Path) -> None:
    run_id = new_run(store)
    store.put_level(run_id, make_level(4, phase="measuring", verdict="undecided", outcome=None))
    final0 = make_level(4)
    store.put_level(run_id, final0)  # same index: replaces
    lv1 = make_level(8, verdict="fail", power_note="nominal 700 W per GPU", mean_power_w=None, energy_j=None,
                     index=1)
    store.put_level(run_id, lv1)
    bare = LevelRecord(index=2, n=16, phase="transition", started_at=42.0)
    store.put_level(run_id, bare)
    store.flush()

    run = load_run(db, run_id)
    assert [lv.index for lv in run.levels] == [0, 1, 2]
    assert run.levels[:2] == [final0, lv1]
    got = run.levels[2]
    assert (got.n, got.phase, got.started_at, got.verdict, got.measure_from, got.confidence) == (
        16, "transition", 42.0, "undecided", None, None,
    )  # fmt: skip
    assert math.isnan(got.speed_p25) and all(math.isnan(b) for b in got.ttft_p95_bounds)
    # An unfinished run's headline is the best passing level so far.
    info = list_runs(db)[0]
    assert (info.result_n, info.result_final, info.headline) == (4, False, "N>=4 so far @ deepseek/100-5")


def test_telemetry_server_metrics_and_annotations_round_trip(store: RunStore, db: Path) -> None:
    run_id = new_run(store)
    samples = [make_sample(float(t), gpu=g) for t in range(5) for g in ("0", "1")]
    store.add_telemetry(run_id, samples[:6], source="nvml")
    store.add_telemetry(
        run_id, [*samples[6:], make_sample(9.0, gpu="2", power_w=None, temp_c=None)], source="sim"
    )
    store.add_server_metrics(run_id, [(1.0, {"running": 12.0, "waiting": 3.0}), (2.0, {"running": 14.0})])
    store.annotate(run_id, 3.5, "switched power cap to 600 W")
    store.annotate(run_id, 7.25, "second note")
    store.set_note(run_id, "cap test")
    store.flush()

    run = load_run(db, run_id)
    tel = run.telemetry
    assert len(tel) == 11 and tel.gpus() == ["0", "1", "2"]
    assert list(tel.source[:6]) == ["nvml"] * 6 and tel.source[10] == "sim"
    first = samples[0]
    assert (tel.t[0], tel.gpu[0], tel.power_w[0], tel.energy_j[0], tel.power_limit_w[0]) == (
        first.t, first.gpu, first.power_w, first.energy_j, first.power_limit_w,
    )  # fmt: skip
    assert (tel.util_pct[0], tel.mem_used_bytes[0], tel.temp_c[0], tel.sm_clock_mhz[0]) == (
        97.0, 70 * 2**30, 61.5, 1980.0,
    )  # fmt: skip
    assert math.isnan(tel.power_w[10]) and math.isnan(tel.temp_c[10])
    srv = run.server_metrics
    assert srv.names() == ["running", "waiting"]
    t, v = srv.series("running")
    assert list(t) == [1.0, 2.0] and list(v) == [12.0, 14.0]
    assert [(a.t, a.text) for a in run.annotations] == [
        (3.5, "switched power cap to 600 W"),
        (7.25, "second note"),
    ]
    info = list_runs(db)[0]
    assert (info.annotations, info.first_annotation, info.note) == (
        2,
        "switched power cap to 600 W",
        "cap test",
    )


def test_list_runs_newest_first_and_id_resolution(store: RunStore, db: Path) -> None:
    older = new_run(store, started_wall=1_700_000_000.0)
    newer = new_run(store, started_wall=1_800_000_000.0)
    store.flush()
    assert [r.id for r in list_runs(db)] == [newer, older]
    assert resolve_run_id(db, "latest") == newer
    assert resolve_run_id(db, older[:8]) == older  # date prefix is unique here
    assert load_run(db, newer, with_requests=False).info.id == newer


def test_run_id_collision_draws_a_new_id(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(["20260101-000000-aaaa", "20260101-000000-aaaa", "20260101-000000-bbbb"])
    monkeypatch.setattr("agentperf_tui.core.store.writer.new_run_id", lambda _wall: next(ids))
    assert new_run(store) == "20260101-000000-aaaa"
    assert new_run(store) == "20260101-000000-bbbb"


def test_one_bad_write_loses_only_itself(store: RunStore, db: Path) -> None:
    run_id = new_run(store)
    store.add_requests(run_id, [make_result(1)], level=0)
    store.add_requests("20000101-000000-dead", [make_result(2)], level=0)  # no such run
    store.add_requests(run_id, [make_result(3, trajectory_id=None)], level=0)  # violates NOT NULL
    store.add_requests(run_id, [make_result(4)], level=0)
    with pytest.raises(StoreWriteError, match="2 write\\(s\\) failed"):
        store.flush()
    status = store.status()
    assert status.failed_writes == 2 and status.requests_written == 2 and status.pending == 0
    assert status.last_error is not None and "NOT NULL" in status.last_error
    assert [r.turn for r in load_run(db, run_id).requests.to_results()] == [1, 4]
    store.flush()  # failures are reported once


def test_finish_status_is_checked_and_closed_store_refuses_writes(db: Path) -> None:
    store = RunStore(db)
    run_id = new_run(store)
    with pytest.raises(ValueError, match="finished, aborted, crashed"):
        store.finish_run(run_id, status="done", summary=RunSummary())
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreClosedError):
        store.add_requests(run_id, [make_result(0)], level=None)


def test_close_commits_everything_queued(db: Path) -> None:
    with RunStore(db) as store:
        run_id = new_run(store)
        store.add_requests(run_id, [make_result(i) for i in range(500)], level=0)
        store.finish_run(run_id, status="finished", summary=make_summary([make_level(8)], n_star=8))
    run = load_run(db, run_id)
    assert len(run.requests) == 500 and run.info.status == "finished" and run.info.headline.startswith("N*=8")


def test_store_file_is_wal(store: RunStore, db: Path) -> None:
    new_run(store)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
