"""A verdict's confidence as a person reads it: "95%", close to certainty "99.6%" or "99.9%", and
never "100%": a finite sample never makes a verdict certain."""

from __future__ import annotations

import math


def confidence_text(x: float) -> str:
    if x < 0.995:
        return f"{x * 100:.0f}%"
    return f"{math.floor(min(x, 0.999) * 1000) / 10:.1f}%"
