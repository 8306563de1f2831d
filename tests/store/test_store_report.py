"""The HTML report of a stored run: readable configuration, one bar per level, verdicts only
for decided levels, and the power note that fits how the run ended."""

from __future__ import annotations

import re
from pathlib import Path

from store_factories import make_level, make_summary, new_run

from agentperf_tui.core.report.html import config_rows, render_report
from agentperf_tui.core.store import RunStore, load_run
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.tiers import SloTier

TIER = SloTier(250.0, 3.0, family="gpt-oss-120b", version="rev1")


def _svg(html: str, title: str) -> str:
    start = html.index(f'aria-label="{title}"')
    return html[start : html.index("</svg>", start)]


def test_the_configuration_reads_as_key_value_rows() -> None:
    rows = dict(
        config_rows(
            {"tier_resolved": {"speed_tok_s": 250.0, "ttft_s": 3.0}, "sweep": [4, 8], "exact_length": True,
             "gpu_count": None, "trajectories": "trajectories/quick"}
        )
    )  # fmt: skip
    assert rows == {
        "exact_length": "yes",
        "gpu_count": "—",
        "sweep": "4, 8",
        "tier_resolved.speed_tok_s": "250",
        "tier_resolved.ttft_s": "3",
        "trajectories": "trajectories/quick",
    }


def test_level_bars_stand_at_even_places_labelled_with_their_n(store: RunStore, db: Path) -> None:
    levels = [
        make_level(4, verdict="fail", index=0),
        make_level(2, index=1),
        make_level(3, index=2, outcome="discarded"),
        make_level(3, index=3),
        make_level(512, verdict="fail", index=4),
    ]
    run_id = new_run(store, config={"tier": "gpt-oss-120b@rev1/250-3", "sweep": [2, 4]})
    for lv in levels:
        store.put_level(run_id, lv)
    store.finish_run(run_id, status="finished", summary=make_summary(levels, n_star=3, tier=TIER))
    store.flush()
    html = render_report(load_run(db, run_id))
    chart = _svg(html, "P25 output speed per level")
    labels = re.findall(r'text-anchor="middle" fill="#555">(\d+)</text>', chart)
    assert labels == ["4", "2", "3", "3", "512"], "one bar per level, in the order tried"
    bars = re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill="(#\w+)"', chart)
    widths = {w for w, fill in bars if fill != "#fafafa"}  # not the frame
    assert len(widths) == 1, "a level at N=512 is as wide as one at N=2"
    # the discarded level shows what happened to it, never a verdict
    verdicts = re.findall(r'<td class="(\w+)">([^<]+)</td>', html.split("<h2>Levels</h2>")[1])
    assert ("other", "discarded") in verdicts and verdicts.count(("pass", "pass")) == 2
    # the configuration as rows, not a Python repr
    assert "<code>sweep</code></th><td>2, 4</td>" in html and "[2, 4]" not in html


def _report(store: RunStore, db: Path, summary: RunSummary) -> str:
    run_id = new_run(store, config={"tier": "gpt-oss-120b@rev1/250-3"})
    for lv in summary.levels:
        store.put_level(run_id, lv)
    store.finish_run(run_id, status=summary.status, summary=summary)  # type: ignore[arg-type]
    store.flush()
    return render_report(load_run(db, run_id))


def test_the_power_note_fits_how_the_run_ended(store: RunStore, db: Path) -> None:
    one = make_level(1, verdict="fail", speed_p25=52.0, speed_verdict="fail", failing_criterion="speed")
    zero = _report(store, db, make_summary([one], n_star=0, tier=TIER, gpu_count=1))
    assert "no level met the tier" in zero and "no GPU power reading" not in zero
    assert "single-agent speed is 52 tok/s (P25), below the 250 tok/s floor" in zero
    passed = make_level(4)
    aborted = make_summary([passed], n_star=None, tier=TIER, status="aborted").model_copy(
        update={"results": ()}
    )
    cut = _report(store, db, aborted)
    assert "the run ended before it had an answer" in cut and "no GPU power reading" not in cut
