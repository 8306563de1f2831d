import math

import numpy as np
import pytest

from agentperf_tui.core.metrics.columns import RequestColumns
from agentperf_tui.core.metrics.window import quantile, window_stats
from agentperf_tui.core.records import RequestResult


def _req(
    t_sent: float, ttft: float, dur: float, n_out: int, ok: bool = True, agent: int = 0
) -> RequestResult:
    return RequestResult(
        agent_id=agent,
        trajectory_id="t",
        replay=0,
        turn=0,
        t_intended=t_sent,
        t_sent=t_sent,
        t_end=t_sent + ttft + dur,
        ok=ok,
        t_first_token=t_sent + ttft if ok else None,
        t_last_token=t_sent + ttft + dur if ok else None,
        output_tokens=n_out if ok else None,
        client_output_tokens=n_out if ok else 0,
        requested_output_tokens=n_out,
    )


def test_result_definitions_follow_the_method() -> None:
    r = _req(10.0, 0.5, 2.0, 101)
    r.t_sent = 10.2  # the client got round to it late: TTFT still counts from the intended time
    assert r.ttft == pytest.approx(0.5)
    assert r.client_lag == pytest.approx(0.2)
    assert r.output_speed == pytest.approx(100 / 2.0)
    bad = _req(10.0, 0.5, 2.0, 101, ok=False)
    assert bad.ttft == math.inf and bad.output_speed == 0.0


def test_a_streamed_result_is_the_one_its_keywords_describe() -> None:
    """The positional shortcut the simulator uses fills the same fields as the keyword form."""
    fast = RequestResult.streamed(3, "t", 1, 7, "explore", 1.0, 1.5, 2.0, 9.0, 500, 256, 40, 40)
    slow = RequestResult(
        agent_id=3, trajectory_id="t", replay=1, turn=7, node="explore", t_intended=1.0, t_sent=1.5,
        t_end=9.0, ok=True, t_first_token=2.0, t_last_token=9.0, prompt_tokens=500, cached_tokens=256,
        output_tokens=40, client_output_tokens=40, requested_output_tokens=40,
    )
    assert fast == slow and fast.ttft == 1.0 and fast.output_speed == 39 / 7


def test_a_reply_read_in_one_piece_is_fast_not_failed() -> None:
    r = _req(0.0, 0.1, 0.0, 64)  # first and last token in the same network read
    assert r.output_speed == math.inf
    cols = RequestColumns()
    cols.extend([r, _req(0.0, 0.1, 1.0, 11)])
    st = window_stats(cols, now=2.0, window_s=30.0)
    assert st.speed_p50 == pytest.approx(10.0) and st.speed_p25 == pytest.approx(10.0)
    assert sum(st.speed_hist) == 1  # the histogram shows what could be timed


def test_usage_beats_client_count_and_only_an_impossible_usage_is_flagged() -> None:
    r = _req(0.0, 0.1, 1.0, 51)
    r.client_output_tokens = 50  # one delta carried two tokens: normal
    assert r.output_speed == pytest.approx(50.0)
    assert not r.usage_mismatch
    r.client_output_tokens = 52  # more deltas than the usage counts tokens: the usage is wrong
    assert r.usage_mismatch
    r.requested_output_tokens = 64
    assert r.length_mismatch


def test_columns_grow_and_keep_every_record_compactly() -> None:
    cols = RequestColumns(capacity=16)
    cols.extend([_req(float(i), 0.2, 1.0, 11, agent=i % 7) for i in range(10_000)], level=3)
    assert len(cols) == 10_000
    assert cols.ok == 10_000 and cols.output_tokens == 110_000
    assert RequestColumns.bytes_per_record() < 100
    assert set(np.unique(cols.col("agent"))) == set(range(7))
    assert np.all(cols.col("level") == 3)


def test_failed_requests_count_against_the_window_percentiles() -> None:
    cols = RequestColumns()
    good = [_req(float(i) * 0.01, 0.1, 1.0, 101) for i in range(90)]
    failed = [_req(float(i) * 0.01, 0.1, 1.0, 101, ok=False) for i in range(10)]
    cols.extend(good + failed)
    st = window_stats(cols, now=3.0, window_s=30.0)
    assert st.requests == 100 and st.failed == 10
    # 10% failed: P95 TTFT is infinite, P25 speed is still the good requests' 100 tok/s
    assert st.ttft.p95 == math.inf
    assert st.ttft.p50 == pytest.approx(0.1, rel=1e-5)
    assert st.speed_p25 == pytest.approx(100.0, rel=1e-4)
    assert sum(st.speed_hist) == 90


def test_window_only_counts_recent_requests() -> None:
    cols = RequestColumns()
    cols.extend([_req(0.0, 5.0, 1.0, 11)])  # slow, ends at 6 s
    cols.extend([_req(100.0, 0.2, 1.0, 11)])  # fast, ends at 101.2 s
    st = window_stats(cols, now=110.0, window_s=30.0)
    assert st.requests == 1
    assert st.ttft.p99 == pytest.approx(0.2, rel=1e-5)


def test_quantile_is_empirical() -> None:
    v = np.array([1.0, 2.0, 3.0, 4.0])
    assert quantile(v, 0.25) == 1.0
    assert quantile(v, 0.5) == 2.0
    assert math.isnan(quantile(np.array([]), 0.5))


def test_speed_histogram_range_ignores_outliers_and_always_shows_the_floor() -> None:
    cols = RequestColumns()
    # 200 requests at 40-60 tok/s and one at 2,000 tok/s (a reply read in a burst)
    cols.extend([_req(0.0, 0.1, 1.0, 41 + i % 21) for i in range(200)] + [_req(0.0, 0.1, 0.01, 21)])
    st = window_stats(cols, now=2.0, window_s=30.0, speed_floor=100.0)
    lo, hi = st.speed_hist_edges[0], st.speed_hist_edges[-1]
    assert hi < 200, "one outlier does not stretch the range to 2,000 tok/s"
    assert lo <= 40 and hi >= 100, "the data and the floor above it are both in range"
    assert sum(st.speed_hist) == 201, "values beyond the range land in the end bins"
    # the histogram spreads the body of the data over several bins instead of one
    assert sum(1 for c in st.speed_hist if c) >= 4
    below = window_stats(cols, now=2.0, window_s=30.0, speed_floor=10.0)
    assert below.speed_hist_edges[0] <= 10


def test_requests_cut_off_by_the_end_of_the_run_are_not_finished_requests() -> None:
    cols = RequestColumns()
    done = [_req(0.0, 0.1, 1.0, 11) for _ in range(10)]
    cut = _req(0.0, 0.1, 1.0, 11, ok=False)
    cut.failure = "open_at_end"
    cols.extend([*done, cut])
    st = window_stats(cols, now=2.0, window_s=30.0)
    assert st.requests == 10 and math.isfinite(st.ttft.p99)
    assert cols.open_at_end == 1 and cols.failed == 0
