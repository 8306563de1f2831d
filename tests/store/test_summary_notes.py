"""What a summary says first (core/summary/headline.py): why a search found nothing, what failed,
what is missing from the normalised figures."""

from __future__ import annotations

import math

from store_factories import make_level, make_summary

from agentperf_tui.core.summary.headline import headline, summary_notes, zero_reason
from agentperf_tui.core.summary.model import RequestCounts
from agentperf_tui.core.tiers import SloTier

TIER = SloTier(100.0, 5.0, family="deepseek-v4-pro", version="2026-06")


def test_a_search_that_ends_at_zero_says_why_in_one_line() -> None:
    levels = [
        make_level(4, verdict="fail", speed_p25=41.0, index=0),
        make_level(2, verdict="fail", speed_p25=48.0, index=1),
        make_level(1, verdict="fail", speed_p25=52.3, ttft_p95=0.4, index=2),
    ]
    summary = make_summary(levels, n_star=0, tier=TIER, gpu_count=2)
    why = zero_reason(summary)
    assert why == (
        "N*=0: the single-agent speed is 52 tok/s (P25), below the 100 tok/s floor: "
        "pick a lower tier or a faster deployment"
    )
    assert why in summary_notes(summary)


def test_zero_for_ttft_or_for_failures_names_that() -> None:
    slow = make_level(1, verdict="fail", speed_p25=140.0, ttft_p95=7.25)
    why = zero_reason(make_summary([slow], n_star=0, tier=TIER))
    assert why is not None and "the single-agent P95 TTFT is 7.25 s, above the 5 s limit" in why
    broken = make_level(2, verdict="fail", requests=30, failed=30, speed_p25=0.0, ttft_p95=math.inf)
    why = zero_reason(make_summary([broken], n_star=0, tier=TIER))
    assert why == (
        "N*=0: every request at N=2 (the lowest N tried) failed: the server did not serve the load "
        "(see the failures)"
    )
    # a level just under the floor is never shown as the floor itself
    close = make_level(1, verdict="fail", speed_p25=99.96, ttft_p95=0.3)
    why = zero_reason(make_summary([close], n_star=0, tier=TIER))
    assert why is not None and "99.96 tok/s" in why


def test_no_reason_when_there_is_an_answer_or_nothing_was_decided() -> None:
    assert zero_reason(make_summary([make_level(8)], n_star=8, tier=TIER)) is None
    open_level = make_level(1, verdict="undecided", outcome="discarded")
    assert zero_reason(make_summary([open_level], n_star=0, tier=TIER)) is None


def test_failures_by_kind_and_what_is_missing_are_noted() -> None:
    level = make_level(8, mean_power_w=None, power_note="agents per megawatt not measured: no GPU power "
                       "readings (nvml unavailable: no NVIDIA driver on this host; read the GPU nodes "
                       "with --telemetry dcgm:http://NODE:9400/metrics)")  # fmt: skip
    summary = make_summary([level], n_star=8, tier=TIER).model_copy(
        update={
            "requests": RequestCounts(ok=90, failed=12, open_at_end=3,
                                      by_kind={"timeout": 10, "stalled": 2, "open_at_end": 3}),
            "usage_mismatches": 1,
        }
    )  # fmt: skip
    notes = summary_notes(summary)
    assert "12 failed requests (counted against the SLO): 10 timeout, 2 stalled" in notes
    assert any(n.startswith("GPU count unknown: no agents per GPU") for n in notes)
    mw = next(n for n in notes if n.startswith("no agents per MW"))
    assert "--telemetry dcgm:" in mw and "GPU count unknown" not in mw
    assert any(n.startswith("1 request streamed more output deltas") for n in notes)
    head = headline(summary)
    assert head.agents_per_mw is None and "--telemetry dcgm:" in head.power_text()


def test_the_power_text_fits_how_the_run_ended() -> None:
    zero = make_summary([make_level(1, verdict="fail")], n_star=0, tier=TIER, gpu_count=1)
    assert headline(zero).power_text() == "no level met the tier: nothing to divide by the power"
    cut = make_summary([make_level(4)], n_star=None, tier=TIER, status="aborted").model_copy(
        update={"results": ()}
    )
    assert "ended before it had an answer" in headline(cut).power_text()
