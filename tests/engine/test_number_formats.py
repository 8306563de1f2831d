"""The one number format of every face (core/fmt.py)."""

from __future__ import annotations

import math

from agentperf_tui.core import fmt


def test_large_figures_carry_separators_never_exponents() -> None:
    assert fmt.per_mw(31861.4) == "31,861"
    assert fmt.number(31861) == "31,861"
    assert fmt.number(3.186e4) == "31,860"
    assert fmt.count(1_234_567) == "1,234,567"
    assert fmt.number(0.8312) == "0.83" and fmt.number(41.25) == "41.2" and fmt.number(612.4) == "612"


def test_plurals() -> None:
    assert fmt.plural(1, "GPU") == "1 GPU"
    assert fmt.plural(8, "GPU") == "8 GPUs"
    assert fmt.plural(1, "run") == "1 run"
    assert fmt.plural(1200, "run") == "1,200 runs"
    assert fmt.plural(2, "reply", "replies") == "2 replies"


def test_a_figure_next_to_its_limit_is_rounded_to_the_side_it_is_on() -> None:
    # 99.6 tok/s fails a 100 tok/s floor: never shown as "100"
    assert fmt.speed(99.6, floor=100) == "99.6 tok/s"
    assert fmt.speed(99.96, floor=100, unit=False) == "99.96"
    assert fmt.speed(100.4, floor=100, unit=False) == "100"
    assert fmt.speed(130.4, floor=100, unit=False) == "130"
    # a p95 TTFT of 5.004 s fails a 5 s limit: never "5.00 s"
    assert fmt.seconds(5.004, limit=5.0) == "5.004 s"
    assert fmt.seconds(4.996, limit=5.0) == "5.00 s", "at the limit still meets it: no extra digits"
    assert fmt.seconds(0.9996, limit=1.0) == "1.00 s" and fmt.seconds(1.0004, limit=1.0) == "1.0004 s"
    assert fmt.seconds(3.2, limit=5.0) == "3.20 s"
    assert fmt.near(99.7, 100, higher_is_better=True) == "99.7"


def test_missing_and_infinite_values() -> None:
    for render in (fmt.number, fmt.count, fmt.seconds, fmt.speed, fmt.watts, fmt.percent, fmt.per_mw):
        assert render(None) == "—" and render(math.nan) == "—"
    assert fmt.seconds(math.inf) == "∞" and fmt.number(math.inf) == "∞"
    assert fmt.optional(None, str) == "—" and fmt.optional(0.5, lambda x: f"{x:.0%}") == "50%"


def test_differences() -> None:
    assert fmt.signed(8) == "+8" and fmt.signed(-3.5) == "-3.50" and fmt.signed(0.0) == "±0"
    assert fmt.signed(0.0004) == "±0", "a difference that rounds to nothing is not '+0.000'"
