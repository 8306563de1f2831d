"""Numbers with units, for a person reading a terminal at 2 a.m.

Every function accepts NaN/inf/None and returns a short, unambiguous string: "—" for no value
yet, "∞" for a failed TTFT.
"""

from __future__ import annotations

import math

from agentperf_tui.core.search.confidence_text import confidence_text

DASH = "—"


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def seconds(x: float | None) -> str:
    """A latency: "850 ms", "3.21 s", "∞"."""
    if _missing(x):
        return DASH
    assert x is not None
    if math.isinf(x):
        return "∞"
    if abs(x) < 1.0:
        return f"{x * 1000:.0f} ms"
    if abs(x) < 100:
        return f"{x:.2f} s"
    return f"{x:.0f} s"


def duration(x: float | None) -> str:
    """Elapsed time: "42s", "3m05s", "1h02m"."""
    if _missing(x):
        return DASH
    assert x is not None
    if math.isinf(x):
        return "∞"
    s = max(0, round(x))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def speed(x: float | None) -> str:
    """Output speed per request: "112 tok/s"."""
    if _missing(x):
        return DASH
    assert x is not None
    if x < 10:
        return f"{x:.1f} tok/s"
    return f"{x:,.0f} tok/s"


def rate(x: float | None, unit: str = "tok/s") -> str:
    """A large rate: "12.3k tok/s"."""
    if _missing(x):
        return DASH
    assert x is not None
    return f"{si(x)} {unit}"


def si(x: float) -> str:
    """Compact count: 950, 12.3k, 4.50M."""
    a = abs(x)
    if a >= 1e9:
        return f"{x / 1e9:.2f}G"
    if a >= 1e6:
        return f"{x / 1e6:.2f}M"
    if a >= 1e4:
        return f"{x / 1e3:.1f}k"
    if a >= 100 or float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:.1f}"


def watts(x: float | None) -> str:
    """Power: "612 W", "4.87 kW", "1.20 MW"."""
    if _missing(x):
        return DASH
    assert x is not None
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f} MW"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.1f} kW"
    if abs(x) >= 1e3:
        return f"{x / 1e3:.2f} kW"
    return f"{x:.0f} W"


def energy(joules: float | None) -> str:
    """Energy: "350 J", "12.4 Wh", "3.21 kWh"."""
    if _missing(joules):
        return DASH
    assert joules is not None
    wh = joules / 3600.0
    if wh < 1:
        return f"{joules:.0f} J"
    if wh < 1000:
        return f"{wh:.1f} Wh"
    return f"{wh / 1000:.2f} kWh"


def percent(x: float | None, digits: int = 0) -> str:
    """A fraction 0..1 as "87%"."""
    if _missing(x):
        return DASH
    assert x is not None
    return f"{x * 100:.{digits}f}%"


def confidence(x: float | None) -> str:
    """A verdict's confidence, never "100%" (see core/search/confidence_text.py)."""
    if _missing(x):
        return DASH
    assert x is not None
    return confidence_text(x)


def count(x: int | float | None) -> str:
    if _missing(x if not isinstance(x, int) else float(x)):
        return DASH
    assert x is not None
    return f"{x:,.0f}"


def ratio(x: float | None, digits: int = 1) -> str:
    if _missing(x):
        return DASH
    assert x is not None
    if math.isinf(x):
        return "∞"
    return f"{x:,.{digits}f}"
