"""The pure drawing helpers: units, chart geometry, history bookkeeping."""

from __future__ import annotations

import math

from rich.console import Console

from agentperf_tui.core import fmt
from agentperf_tui.core.search.confidence_text import confidence_text
from agentperf_tui.tui.charts import (
    HBar,
    Line,
    Threshold,
    TierBracket,
    bar,
    bracket,
    brackets,
    hbars,
    histogram,
    line_chart,
    stacked_chart,
)
from agentperf_tui.tui.history import History

from .fakes import SearchScript


def plain(text: object) -> list[str]:
    console = Console(width=200, color_system=None)
    with console.capture() as cap:
        console.print(text)
    return cap.get().rstrip("\n").split("\n")


def test_units_read_naturally() -> None:
    assert fmt.seconds(0.25) == "250 ms"
    assert fmt.seconds(3.214) == "3.21 s"
    assert fmt.seconds(math.inf) == "∞"
    assert fmt.seconds(math.nan) == "—"
    assert fmt.duration(185) == "3m05s"
    assert fmt.duration(3725) == "1h02m"
    assert fmt.watts(612) == "612 W"
    shown = [fmt.optional(c, confidence_text) for c in (0.95, 0.9949, 0.996, 0.99999, None)]
    assert shown == ["95%", "99%", "99.6%", "99.9%", "—"], "never 100%: no finite sample makes it certain"
    assert fmt.watts(4870) == "4.87 kW"
    assert fmt.energy(3600 * 12.4) == "12.4 Wh"
    assert fmt.energy(3.6e6 * 3.21) == "3.21 kWh"
    assert fmt.rate(12345) == "12.3k tok/s"
    assert fmt.percent(0.87) == "87%"
    assert fmt.speed(None) == "—"


def test_line_chart_has_the_asked_size_and_marks_the_limit() -> None:
    xs = list(range(100))
    text = line_chart(
        xs, [Line([1 + i / 50 for i in xs], "cyan")], 40, 8, thresholds=[Threshold(5.0, "red")], y_format=str
    )
    rows = plain(text)
    assert len(rows) == 8
    assert all(len(r) <= 40 for r in rows)
    # The limit is above the data, and the y axis stretches to show it, labelled.
    assert any(r.strip().startswith("5.0") for r in rows)
    limit_row = next(i for i, r in enumerate(rows) if r.strip().startswith("5.0"))
    drawn = [
        i for i, r in enumerate(rows) if any(0x2800 < ord(ch) <= 0x28FF for ch in r[7:] if ch not in "⠁⠈")
    ]
    assert drawn and min(drawn) > limit_row - 1, "the data (1..3) sits below the 5.0 limit line"


def test_line_chart_copes_with_no_data_nan_and_inf() -> None:
    assert len(plain(line_chart([], [Line([], "red")], 30, 4))) == 4
    rows = plain(line_chart([0, 1, 2, 3], [Line([math.nan, 1.0, math.inf, 2.0], "red")], 30, 4))
    # inf is drawn clipped at the top, not dropped.
    assert any(0x2800 < ord(ch) <= 0x28FF for ch in rows[0][7:])


def test_histogram_marks_floor_and_p25() -> None:
    rows = plain(histogram([0, 2, 8, 4, 1], [0, 50, 100, 150, 200, 250], 30, 5, floor=100, marker=210))
    assert len(rows) == 5
    axis = rows[-1]
    assert "▲100" in axis and "◆" in axis
    assert axis.index("▲") < axis.index("◆")
    crowded = plain(histogram([0, 2, 8, 4, 1], [0, 50, 100, 150, 200, 250], 30, 5, floor=100, marker=115))[-1]
    assert "◆" in crowded and "▲" in crowded, "the P25 marker wins; the floor keeps its arrow"
    assert rows[-2].strip(), "the tallest bins reach the bottom bar row"
    assert "no completed requests" in plain(histogram([], [], 30, 3))[0]


def test_stacked_chart_stacks_layers_in_order() -> None:
    xs = [0.0, 1.0]
    text = stacked_chart(xs, [([2, 2], "blue"), ([2, 2], "green"), ([4, 4], "yellow")], 20, 4, gutter=3)
    rows = plain(text)
    assert len(rows) == 4
    # 8 agents on a scale topping at 8: the bottom rows are solid, the top row too.
    assert set(rows[-1][4:].strip()) == {"█"}
    assert set(rows[0][4:].strip()) == {"█"}


def test_bracket_shows_each_level_and_the_interval() -> None:
    rows = plain(bracket([(8, "pass"), (16, "pass"), (32, "fail"), (24, "undecided")], 16, 32, 40))
    assert rows[0].count("✓") == 2 and rows[0].count("✗") == 1 and "•" in rows[0]
    assert "━" in rows[0]
    assert "16" in rows[1] and "32" in rows[1]


def test_bar_gauge_width() -> None:
    assert len(plain(bar(0.5, 10))[0]) == 10
    assert plain(bar(2.0, 4))[0] == "████"


def test_history_keeps_the_whole_run_when_it_fills() -> None:
    script = SearchScript()
    h = History(capacity=64)
    for snap in script.snapshots:
        h.add(snap)
    assert len(h) < 64
    t = h.columns["t"]
    assert t[0] == script.snapshots[0].t
    assert t[-1] >= script.snapshots[-1].t - 4 * 0.5 * 2
    assert t == sorted(t)
    assert set(h.gpu_power) == {"0", "1", "2", "3"}
    assert all(len(v) == len(h) for v in h.gpu_power.values())


def _power_history(gpus: int, points: int = 40) -> tuple[History, object]:
    from dataclasses import replace

    from agentperf_tui.core.views import PowerView

    base = SearchScript().snapshots[0]
    h = History()
    snap = base
    for i in range(points):
        per_gpu = {str(g): 300.0 + 40.0 * g + i for g in range(gpus)}
        power = PowerView(per_gpu_w=per_gpu, total_w=sum(per_gpu.values()), energy_j=1000.0 * i)
        snap = replace(base, t=float(i), power=power)
        h.add(snap)
    return h, snap


def _colours_drawn(text: object) -> set[str]:
    from rich.text import Text

    assert isinstance(text, Text)
    return {str(span.style) for span in text.spans}


def test_power_panel_draws_a_line_per_gpu_and_the_total_when_tall() -> None:
    from agentperf_tui.tui import palette
    from agentperf_tui.tui.widgets.power import PowerPanel

    h, snap = _power_history(4)
    panel = PowerPanel()
    short = panel.draw(snap, h, 60, 12)  # type: ignore[arg-type]
    lines = plain(short)
    assert "total 1.60 kW" in lines[0]  # 4 x 300 W + 40 x (0+1+2+3) W + 4 x 39 W
    drawn = _colours_drawn(short)
    assert set(palette.GPU_LINES[:4]) <= drawn, "one line colour per GPU, each used"
    assert [line.split()[0] for line in lines[-4:]] == ["0", "1", "2", "3"], "a bar per GPU under the chart"
    tall = plain(panel.draw(snap, h, 60, 24))  # type: ignore[arg-type]
    assert tall[1].strip().startswith("1.6kW"), "the total's own chart, on its scale, on top"
    assert sum("┤" in line for line in tall) >= 4, "two charts, each with its axis labels"


def test_power_panel_with_many_gpus_shows_their_spread_and_mean() -> None:
    from agentperf_tui.tui import palette
    from agentperf_tui.tui.widgets.power import PowerPanel

    h, snap = _power_history(16)
    text = PowerPanel().draw(snap, h, 100, 20)  # type: ignore[arg-type]
    lines = plain(text)
    assert any("lowest to highest of 16 GPUs" in line and "mean" in line for line in lines)
    assert not set(palette.GPU_LINES) & _colours_drawn(text) - {palette.POWER}


def test_a_log_scale_shows_typical_values_and_a_far_limit_together() -> None:
    xs = list(range(60))
    typical = [0.03 + 0.01 * math.sin(i / 5) for i in xs]  # tens of milliseconds
    rows = plain(
        line_chart(xs, [Line(typical, "cyan")], 40, 10, thresholds=[Threshold(5.0, "red")], log_y=True,
                   y_format=lambda v: f"{v:.3g}")
    )  # fmt: skip
    limit_row = next(i for i, r in enumerate(rows) if r.strip().startswith("5"))
    dots = [any(0x2800 < ord(ch) <= 0x28FF for ch in r[7:]) for r in rows]
    drawn = [i for i, has in enumerate(dots) if has and i != limit_row]
    assert limit_row <= 2, "the limit is near the top"
    assert drawn and min(drawn) > limit_row + 2 and max(drawn) < len(rows) - 1, (
        "the typical values sit well inside the chart, not flattened on its floor"
    )


def test_the_floor_keeps_its_arrow_when_the_p25_marker_falls_in_its_column() -> None:
    edges = [float(e) for e in range(0, 321, 20)]
    counts = [0, 0, 1, 3, 5, 8, 9, 6, 3, 1, 0, 0, 0, 0, 0, 0]
    below = plain(histogram(counts, edges, 35, 5, floor=100.0, marker=92.0))[-1]
    assert "◆▲100" in below, "P25 just under the floor: the arrow right beside it"
    above = plain(histogram(counts, edges, 35, 5, floor=100.0, marker=104.0))[-1]
    assert "▲◆" in above


def test_brackets_of_several_tiers_share_one_axis() -> None:
    levels = [(8, "pass"), (16, "pass"), (32, "fail")]
    tiers = [
        TierBracket(levels, 16, 32),
        TierBracket([(8, "pass"), (16, "fail"), (32, "fail")], 8, 16),
        TierBracket([(8, "fail"), (16, "fail"), (32, "fail")], None, 8),
    ]
    lines, labels = brackets(tiers, 40)
    rows = [plain(line)[0] for line in lines]
    assert [r.count("✓") for r in rows] == [2, 1, 0] and [r.count("✗") for r in rows] == [1, 2, 3]
    # the same N stands in the same column on every line, over its label
    label_row = plain(labels)[0]
    for n in ("8", "16", "32"):
        col = label_row.index(n) + len(n) // 2
        assert all(r[col] in "✓✗" for r in rows), f"N={n} lines up across the tiers"
    assert "━" in rows[0] and "━" in rows[1] and "━" not in rows[2], "no bracket before a pass"
    single = plain(bracket(levels, 16, 32, 40))
    assert single == [rows[0], plain(bracket(levels, 16, 32, 40))[1]], "one tier: drawn as before"


def test_histogram_colours_and_marks_each_tier_floor() -> None:
    edges = [float(e) for e in range(0, 401, 20)]
    counts = [5] * 20
    text = histogram(counts, edges, 40, 4, floors=[(300.0, "red"), (100.0, "yellow")], marker=210.0)
    axis = plain(text)[-1]
    assert "▲100" in axis and "▲300" in axis and "◆" in axis
    # a bin under 100 fails both tiers: the colour of the least demanding (100); 100..300: 300's
    spans = {(s.start, s.end): str(s.style) for s in text.spans if s.end <= 40}
    styles_at = {col: style for (a, b), style in spans.items() for col in range(a, b)}
    assert styles_at[2] == "yellow" and styles_at[20] == "red" and styles_at[38] == "green"


def test_threshold_lines_are_named_at_their_right_end() -> None:
    xs = list(range(50))
    chart = line_chart(
        xs, [Line([0.5] * 50, "cyan")], 40, 8, y_format=str,
        thresholds=[Threshold(5.0, "red", "100-5"), Threshold(3.0, "yellow", "250-3")],
    )  # fmt: skip
    rows = plain(chart)
    assert all(len(r) <= 40 for r in rows)
    named = {r.split()[-1]: r for r in rows if r.rstrip().endswith(("100-5", "250-3"))}
    assert set(named) == {"100-5", "250-3"}
    assert named["100-5"].lstrip().startswith("5.0") and named["250-3"].lstrip().startswith("3.0")


def test_hbars_scale_to_the_largest_and_say_why_a_bar_is_missing() -> None:
    rows = plain(
        hbars(
            [HBar("30-10", 200.0, "200", "red"), HBar("100-5", 50.0, "50", "yellow"),
             HBar("300-3", 0.0, "0", "green", "no level met the tier")],
            34,
        )
    )  # fmt: skip
    assert [len(r) for r in rows] == [34, 34, 34]
    assert rows[0].count("█") == 4 * rows[1].count("█")
    assert "no level met the tier" in rows[2] and rows[2].endswith("0")


def test_floors_past_the_histogram_axis_are_named_at_its_end() -> None:
    edges = [float(e) for e in range(0, 201, 20)]
    floors = [(100.0, "red"), (250.0, "yellow"), (500.0, "green")]
    axis = plain(histogram([3] * 10, edges, 40, 3, floors=floors))[-1]
    assert "▲100" in axis and axis.rstrip().endswith("▲250 ▲500 ›")


def test_two_limits_on_one_row_both_show_their_values() -> None:
    chart = line_chart(
        list(range(10)), [Line([0.02] * 10, "cyan")], 40, 6, log_y=True, y_format=lambda v: f"{v:g}s",
        thresholds=[Threshold(5.0, "red", "100-5"), Threshold(3.0, "yellow", "250-3")],
    )  # fmt: skip
    row = next(r for r in plain(chart) if "100-5" in r)
    assert row.lstrip().startswith("5s/3s") and row.rstrip().endswith("100-5 250-3")
