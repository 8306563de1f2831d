"""Figures that may be unknown or infinite, and the one rule for writing them as JSON.

In memory a figure is a float: NaN means "not known", +inf is a real value (a P95 TTFT beyond
every finished request). In JSON, NaN is written as null and infinities as the strings
"Infinity" / "-Infinity", which read back as floats; null reads back as NaN.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer


def finite_or_none(x: Any) -> float | None:
    """A finite float, or None for anything else (None, NaN, infinities, bools, non-numbers)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _read(x: Any) -> Any:
    return math.nan if x is None else x


def _write(x: float) -> float | str | None:
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


Figure = Annotated[float, BeforeValidator(_read), PlainSerializer(_write, when_used="json")]
"""A float that is NaN when unknown (null in JSON) and may be infinite ("Infinity" in JSON)."""

NAN = math.nan
