"""What the dashboard says about a level: one clock, one rounding rule, verdicts only once a
level is decided, a fixed run in its own words, the clocks stopped while paused."""

from __future__ import annotations

import dataclasses
import math

from rich.console import Console
from rich.text import Text

from agentperf_tui.core.summary.level import LevelRecord
from agentperf_tui.core.views import Percentiles, SearchView, Snapshot
from agentperf_tui.tui.history import History
from agentperf_tui.tui.widgets.search import SearchPanel, bracket_text, level_lines
from agentperf_tui.tui.widgets.status import status_text

NO_TIER = SearchView(mode="fixed", rigour="fast", tier="none", speed_floor=math.nan, ttft_limit=math.nan)
TIER = SearchView(mode="search", rigour="fast", tier="t/100-5", speed_floor=100.0, ttft_limit=5.0)


def plain(renderable: object, width: int = 120) -> str:
    console = Console(width=width, color_system=None)
    with console.capture() as cap:
        console.print(renderable)
    return cap.get()


def snap(
    level: LevelRecord, search: SearchView, *, t: float = 52.0, p25: float = 120.0, **over: object
) -> Snapshot:
    base = Snapshot(
        t=t, run_id="r1", simulated_endpoint=True, target_n=level.n, agents=level.n, requests_waiting=1,
        requests_streaming=1, agents_in_tool=1, requests_ok=100, requests_failed=0, output_tokens=9000,
        window_s=30.0, ttft=Percentiles(0.031, 0.045, 0.06), speed_p25=p25, speed_p50=p25 * 1.1,
        speed_hist=(), speed_hist_edges=(), throughput_tok_s=500.0, client_lag_p99=0.001,
        client_lag_max=0.002, level=level, search=dataclasses.replace(search, levels=(level,)),
    )  # fmt: skip
    return dataclasses.replace(base, **over)  # type: ignore[arg-type]


def measuring(n: int = 4, **over: object) -> LevelRecord:
    fields: dict[str, object] = dict(
        index=0, n=n, role="fixed", phase="measuring", started_at=10.0, held_at=12.0, measure_from=20.0,
        reason="measuring: 32 s (cap 300 s), look 3",
    )  # fmt: skip
    fields.update(over)
    return LevelRecord(**fields)  # type: ignore[arg-type]


def test_a_fixed_run_without_a_tier_never_shows_limits_verdicts_or_search_words() -> None:
    s = snap(measuring(), NO_TIER)
    status = plain(status_text(s, simulated=True, run_id="r1"))
    assert "nan" not in status and "✗" not in status and "✓" not in status
    assert "no tier" in status and "N*" not in status
    panel = SearchPanel(duration_s=90.0)
    drawn = plain(panel.draw(s, History(), 80, 10))
    assert "fixed N=4 · no tier: measured only" in drawn
    assert "N*" not in drawn and "bracketed" not in drawn and "cap 300 s" not in drawn
    assert "of a 1m30s run" in drawn
    assert bracket_text(NO_TIER, 4) == "fixed N=4 · no tier: measured only"


def test_one_clock_per_level_on_every_line() -> None:
    s = snap(measuring(role="ramp"), TIER)
    status = plain(status_text(s, simulated=True, run_id="r1"))
    lines = plain(level_lines((s.level,), 3, s.t, 80, TIER))  # type: ignore[arg-type]
    assert "measure 32s" in status and "measure 32s" in lines, "the measured window's time, on both"


def test_a_figure_at_its_limit_reads_the_same_side_as_its_check() -> None:
    level = measuring(role="ramp", speed_p25=99.96, speed_verdict="fail")
    s = snap(level, TIER, p25=99.96)
    status = plain(status_text(s, simulated=True, run_id="r1"))
    assert "99.96/100 tok/s ✗" in status and "100/100" not in status
    assert "99.96" in plain(level_lines((level,), 3, s.t, 80, TIER))


def test_verdicts_only_for_decided_levels() -> None:
    discarded = measuring(role="ramp", phase="settled", outcome="discarded", verdict="pass", ended_at=40.0)
    kept = measuring(n=8, index=1, role="ramp", phase="settled", outcome="measured", verdict="fail",
                     passed=False, ended_at=70.0)  # fmt: skip
    text = plain(level_lines((discarded, kept), 4, 80.0, 80, TIER))
    rows = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert "✓" not in rows["4"] and "discarded" in rows["4"] and "⟲" in rows["4"]
    assert "✗" in rows["8"]


def test_the_clocks_stop_while_paused_and_the_line_says_the_level_restarts() -> None:
    s = snap(measuring(role="ramp"), TIER, t=100.0, paused=True)
    status = plain(status_text(s, simulated=True, run_id="r1", paused_at=80.0))
    assert "PAUSED 1m20s" in status and "(paused 20s; the level restarts on resume)" in status
    assert "measure 1m00s" in status, "the level's clock stopped at the pause too"
    assert isinstance(status_text(s, simulated=True, run_id="r1"), Text)
