"""Numbers with units for every face (console, headless, `runs`, the HTML report).

Each function takes None, NaN or infinity as well as a number and returns a short, unambiguous
string: "—" for no value, "∞" for an infinite one (a failed request's TTFT). Counts and large
figures carry thousands separators ("31,861 agents/MW"), never an exponent. A figure shown next
to the limit it is judged against gets as many decimals as it takes to be on the right side of
it (`near`): "99.6" below a 100 tok/s floor, never "100".
"""

from __future__ import annotations

import math
from collections.abc import Callable

DASH = "—"
MAX_EXTRA_DIGITS = 3
"""`near` adds at most this many decimals to tell a figure from its limit."""


def missing(x: object) -> bool:
    """No value: None, NaN, or not a number at all."""
    if x is None or isinstance(x, bool):
        return x is None
    if isinstance(x, int):
        return False
    return not isinstance(x, float) or math.isnan(x)


def _inf(x: float) -> str:
    return "∞" if x > 0 else "-∞"


def number(x: float | int | None, digits: int | None = None) -> str:
    """A plain figure: "31,861", "612", "41.2", "0.83". `digits` fixes the decimals; without it,
    integers show none and floats as many as their size needs (3 significant figures, at least
    whole units from 100 up)."""
    if missing(x):
        return DASH
    assert x is not None
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,d}"
    if math.isinf(x):
        return _inf(x)
    if digits is None:
        a = abs(x)
        digits = 0 if a >= 100 or a == 0 else 1 if a >= 10 else 2 if a >= 0.1 else 3
    return f"{x:,.{digits}f}"


def signed(x: float | int | None, digits: int | None = None) -> str:
    """A difference: "+12", "-0.41", "±0" when it rounds to nothing."""
    text = number(x, digits)
    if text == DASH or text.startswith(("-", "∞")):
        return "±0" if text.lstrip("-").strip("0.,") == "" else text
    if text.strip("0.,") == "":
        return "±0"
    return "+" + text


def count(x: float | int | None) -> str:
    """A whole count: "1,234"."""
    if missing(x):
        return DASH
    assert x is not None
    if math.isinf(x):
        return _inf(x)
    return f"{x:,.0f}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """ "1 GPU", "2 GPUs", "1,200 runs"."""
    return f"{n:,d} {word if n == 1 else many or word + 's'}"


def ratio(x: float | None, digits: int = 1) -> str:
    """A figure with fixed decimals and separators: "31,861" (digits 0), "2.13" (digits 2)."""
    if missing(x):
        return DASH
    assert x is not None
    if math.isinf(x):
        return _inf(x)
    return f"{x:,.{digits}f}"


def per_gpu(x: float | None) -> str:
    """Agents per GPU: "10", "2.13"."""
    return ratio(x, 0 if x is not None and not missing(x) and abs(x) >= 100 else 2)


def per_mw(x: float | None) -> str:
    """Agents per megawatt: "31,861"."""
    return ratio(x, 0)


def seconds(x: float | None, *, limit: float | None = None) -> str:
    """A latency: "850 ms", "3.21 s", "∞". With `limit`, enough decimals to show which side of
    it the value is on ("4.996 s" under a 5 s limit)."""
    if missing(x):
        return DASH
    assert x is not None
    if math.isinf(x):
        return _inf(x)
    if abs(x) < 0.9995:
        scale, unit, digits = 1000.0, "ms", 0
    elif abs(x) < 100:
        scale, unit, digits = 1.0, "s", 2
    else:
        scale, unit, digits = 1.0, "s", 0
    if limit is not None:
        digits = _digits_near(x * scale, limit * scale, digits, lambda v, lim: v <= lim)
    return f"{x * scale:,.{digits}f} {unit}"


def speed(x: float | None, *, floor: float | None = None, unit: bool = True) -> str:
    """Output speed per request: "112 tok/s", "99.6 tok/s" under a 100 tok/s `floor`."""
    if missing(x):
        return DASH
    assert x is not None
    if math.isinf(x):
        return _inf(x) + (" tok/s" if unit else "")
    digits = 1 if abs(x) < 10 else 0
    if floor is not None:
        digits = _digits_near(x, floor, digits, lambda v, lim: v >= lim)
    return f"{x:,.{digits}f}" + (" tok/s" if unit else "")


def near(x: float | None, limit: float | None, *, higher_is_better: bool, digits: int = 0) -> str:
    """`x` with `digits` decimals, more when rounding would put it on the other side of `limit`."""
    if missing(x):
        return DASH
    assert x is not None
    if math.isinf(x):
        return _inf(x)
    if limit is not None and math.isfinite(limit):
        ok: Callable[[float, float], bool] = (
            (lambda v, lim: v >= lim) if higher_is_better else (lambda v, lim: v <= lim)
        )
        digits = _digits_near(x, limit, digits, ok)
    return f"{x:,.{digits}f}"


def _digits_near(x: float, limit: float, digits: int, ok: Callable[[float, float], bool]) -> int:
    if not math.isfinite(limit):
        return digits
    for extra in range(MAX_EXTRA_DIGITS + 1):
        d = digits + extra
        if ok(round(x, d), limit) == ok(x, limit):
            return d
    return digits + MAX_EXTRA_DIGITS


def limit_text(x: float) -> str:
    """A tier's own figure as written in its name: "100", "2.5"."""
    return f"{x:g}"


def duration(x: float | None) -> str:
    """Elapsed time: "42s", "3m05s", "1h02m"."""
    if missing(x):
        return DASH
    assert x is not None
    if math.isinf(x):
        return _inf(x)
    s = max(0, round(x))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


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


def rate(x: float | None, unit: str = "tok/s") -> str:
    """A large rate: "12.3k tok/s"."""
    if missing(x):
        return DASH
    assert x is not None
    text = _inf(x) if math.isinf(x) else si(x)
    return f"{text} {unit}" if unit else text


def watts(x: float | None) -> str:
    """Power: "612 W", "4.87 kW", "1.20 MW"."""
    if missing(x):
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
    if missing(joules):
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
    if missing(x):
        return DASH
    assert x is not None
    return f"{x * 100:.{digits}f}%"


def optional(x: float | None, render: Callable[[float], str]) -> str:
    """`render(x)`, or "—" when there is no value (e.g. a confidence, with
    core/search/confidence_text.py's rule)."""
    if missing(x):
        return DASH
    assert x is not None
    return render(x)
