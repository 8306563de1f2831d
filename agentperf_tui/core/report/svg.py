"""Minimal SVG plotting for reports: one axes box, nice ticks, lines, points, bars, rules.

Output is a self-contained <svg> string (no scripts, no external fonts), readable in any browser
and in print.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks = []
    v = math.ceil(lo / step - 1e-9) * step
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def fmt_tick(v: float) -> str:
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


@dataclass(frozen=True, slots=True)
class Frame:
    """Where the axes box is and how data maps onto it."""

    left: float
    top: float
    pw: float
    ph: float
    x0: float
    x1: float
    y0: float
    y1: float

    def sx(self, x: float) -> float:
        return self.left + (x - self.x0) / (self.x1 - self.x0) * self.pw

    def sy(self, y: float) -> float:
        y = min(max(y, self.y0), self.y1)
        return self.top + self.ph - (y - self.y0) / (self.y1 - self.y0) * self.ph


Item = Callable[[Frame], list[str]]


def _finite(x: float, y: float) -> bool:
    return math.isfinite(x) and math.isfinite(y)


@dataclass
class Plot:
    title: str
    x_label: str = ""
    y_label: str = ""
    width: int = 640
    height: int = 260
    margin: tuple[int, int, int, int] = (28, 16, 40, 56)
    """top, right, bottom, left."""
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    x_ticks: list[tuple[float, str]] | None = None
    """Labelled positions on the x axis (categories); None: round numbers over the range."""
    _items: list[Item] = field(default_factory=list)
    _xs: list[float] = field(default_factory=list)
    _ys: list[float] = field(default_factory=list)
    _legend: list[tuple[str, str]] = field(default_factory=list)

    # ---- data ----
    def line(
        self, xs: Sequence[float], ys: Sequence[float], color: str, label: str = "", *, width: float = 1.5
    ) -> None:
        xs, ys = list(xs), list(ys)
        self._extend(xs, ys)

        def draw(f: Frame) -> list[str]:
            pts = " ".join(
                f"{f.sx(x):.1f},{f.sy(y):.1f}" for x, y in zip(xs, ys, strict=True) if _finite(x, y)
            )
            if not pts:
                return []
            return [f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}"/>']

        self._add(draw, label, color)

    def points(
        self, xs: Sequence[float], ys: Sequence[float], color: str, label: str = "", r: float = 1.6
    ) -> None:
        xs, ys = list(xs), list(ys)
        self._extend(xs, ys)

        def draw(f: Frame) -> list[str]:
            return [
                f'<circle cx="{f.sx(x):.1f}" cy="{f.sy(y):.1f}" r="{r}" fill="{color}" fill-opacity="0.55"/>'
                for x, y in zip(xs, ys, strict=True)
                if _finite(x, y)
            ]

        self._add(draw, label, color)

    def bars(self, xs: Sequence[float], ys: Sequence[float], colors: Sequence[str], width: float) -> None:
        xs, ys, colors = list(xs), list(ys), list(colors)
        self._extend([x - width / 2 for x in xs] + [x + width / 2 for x in xs], [0.0, *ys])

        def draw(f: Frame) -> list[str]:
            out = []
            for x, y, c in zip(xs, ys, colors, strict=True):
                if not _finite(x, y):
                    continue
                xa, xb = f.sx(x - width / 2), f.sx(x + width / 2)
                ya, yb = f.sy(max(y, 0.0)), f.sy(0.0)
                out.append(
                    f'<rect x="{xa:.1f}" y="{ya:.1f}" width="{max(0.5, xb - xa - 1):.1f}" '
                    f'height="{max(0.0, yb - ya):.1f}" fill="{c}"/>'
                )
            return out

        self._add(draw)

    def hline(self, y: float, color: str, label: str = "") -> None:
        if not math.isfinite(y):
            return
        self._ys.append(y * 1.1)

        def draw(f: Frame) -> list[str]:
            yy = f.sy(y)
            out = [
                f'<line x1="{f.left}" x2="{f.left + f.pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{color}" '
                'stroke-dasharray="6 4" stroke-width="1.5"/>'
            ]
            if label:
                out.append(
                    f'<text x="{f.left + f.pw - 4}" y="{yy - 4:.1f}" text-anchor="end" fill="{color}">'
                    f"{escape(label)}</text>"
                )
            return out

        self._add(draw)

    def vline(self, x: float, color: str, label: str = "") -> None:
        if not math.isfinite(x):
            return
        self._xs.append(x)

        def draw(f: Frame) -> list[str]:
            xx = f.sx(x)
            out = [
                f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{f.top}" y2="{f.top + f.ph}" stroke="{color}" '
                'stroke-dasharray="6 4" stroke-width="1.5"/>'
            ]
            if label:
                out.append(f'<text x="{xx + 4:.1f}" y="{f.top + 12}" fill="{color}">{escape(label)}</text>')
            return out

        self._add(draw)

    def label(self, x: float, y: float, text: str, color: str = "#222") -> None:
        """A figure written just above the point (x, y), e.g. on top of a bar."""
        self._extend([x], [y * 1.08])

        def draw(f: Frame) -> list[str]:
            return [
                f'<text x="{f.sx(x):.1f}" y="{f.sy(y) - 4:.1f}" text-anchor="middle" fill="{color}" '
                f'font-weight="600">{escape(text)}</text>'
            ]

        self._add(draw)

    def segment(self, x0: float, x1: float, y: float, color: str, width: float = 4) -> None:
        self._extend([x0, x1], [y, y])

        def draw(f: Frame) -> list[str]:
            return [
                f'<line x1="{f.sx(x0):.1f}" x2="{f.sx(x1):.1f}" y1="{f.sy(y):.1f}" y2="{f.sy(y):.1f}" '
                f'stroke="{color}" stroke-width="{width}"/>'
            ]

        self._add(draw)

    def _add(self, item: Item, label: str = "", color: str = "") -> None:
        self._items.append(item)
        if label:
            self._legend.append((label, color))

    def _extend(self, xs: Sequence[float], ys: Sequence[float]) -> None:
        self._xs.extend(x for x in xs if math.isfinite(x))
        self._ys.extend(y for y in ys if math.isfinite(y))

    # ---- drawing ----
    def frame(self) -> Frame:
        top, right, bottom, left = self.margin
        x0, x1 = self.x_range or ((min(self._xs), max(self._xs)) if self._xs else (0.0, 1.0))
        y0, y1 = self.y_range or ((min(0.0, *self._ys), max(self._ys)) if self._ys else (0.0, 1.0))
        if x1 <= x0:
            x1 = x0 + 1.0
        if y1 <= y0:
            y1 = y0 + 1.0
        return Frame(left, top, self.width - left - right, self.height - top - bottom, x0, x1, y0, y1 * 1.05)

    def svg(self) -> str:
        f = self.frame()
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="img" aria-label="{escape(self.title)}" '
            'font-family="system-ui, sans-serif" font-size="11">',
            f'<text x="{f.left}" y="16" font-size="13" font-weight="600" fill="#222">'
            f"{escape(self.title)}</text>",
            f'<rect x="{f.left}" y="{f.top}" width="{f.pw}" height="{f.ph}" fill="#fafafa" stroke="#ccc"/>',
        ]
        for t in nice_ticks(f.y0, f.y1):
            y = f.sy(t)
            out.append(
                f'<line x1="{f.left}" x2="{f.left + f.pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e6e6e6"/>'
            )
            out.append(
                f'<text x="{f.left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{fmt_tick(t)}</text>'
            )
        base = f.top + f.ph
        ticks = self.x_ticks
        if ticks is None:
            ticks = [(t, fmt_tick(t)) for t in nice_ticks(f.x0, f.x1, 6)]
        for t, label in ticks:
            x = f.sx(t)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}" stroke="#999"/>')
            out.append(
                f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle" fill="#555">{escape(label)}</text>'
            )
        if self.x_label:
            out.append(
                f'<text x="{f.left + f.pw / 2}" y="{self.height - 6}" text-anchor="middle" fill="#333">'
                f"{escape(self.x_label)}</text>"
            )
        if self.y_label:
            out.append(
                f'<text transform="translate(14,{f.top + f.ph / 2}) rotate(-90)" text-anchor="middle" '
                f'fill="#333">{escape(self.y_label)}</text>'
            )
        for item in self._items:
            out.extend(item(f))
        lx = f.left + f.pw
        for label, color in reversed(self._legend):
            lx -= 7 * len(label) + 18
            out.append(
                f'<rect x="{lx}" y="8" width="10" height="10" fill="{color}"/>'
                f'<text x="{lx + 14}" y="17" fill="#333">{escape(label)}</text>'
            )
        out.append("</svg>")
        return "\n".join(out)
