"""Small terminal charts drawn as Rich Text: braille line/area charts, a histogram, a bracket bar.

These are cheap (numpy, no per-dot Python loops over the whole canvas) so that a redraw never
keeps a key press waiting (the engine runs in a process of its own; see docs/console.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rich.text import Text

# Braille dot bits, indexed [sub_x][sub_y] with sub_y counted from the top of the cell.
_BRAILLE = np.array([[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]], dtype=np.uint8)
_EIGHTHS = " ▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class Line:
    values: Sequence[float]
    color: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class Band:
    """A filled area between `lower` and `upper` (stacked areas are bands on top of each other)."""

    lower: Sequence[float]
    upper: Sequence[float]
    color: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class Threshold:
    y: float
    color: str
    label: str = ""


def _default_fmt(v: float) -> str:
    if abs(v) >= 1e4:
        return f"{v / 1e3:.0f}k"
    if abs(v) >= 100 or float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.1f}"


class _Canvas:
    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.dx, self.dy = cols * 2, rows * 4
        self.bits = np.zeros((rows, cols), dtype=np.uint8)
        self.color = np.full((rows, cols), -1, dtype=np.int16)
        self.palette: list[str] = []

    def plot(self, dot_x: np.ndarray, dot_y: np.ndarray, color: str) -> None:
        """Set dots (x from the left, y from the bottom); the layer's colour wins its cells."""
        keep = (dot_x >= 0) & (dot_x < self.dx) & (dot_y >= 0) & (dot_y < self.dy)
        dot_x, dot_y = dot_x[keep], dot_y[keep]
        if dot_x.size == 0:
            return
        self.palette.append(color)
        idx = len(self.palette) - 1
        row = self.rows - 1 - dot_y // 4
        sub_y = 3 - dot_y % 4
        col = dot_x // 2
        sub_x = dot_x % 2
        np.bitwise_or.at(self.bits, (row, col), _BRAILLE[sub_x, sub_y])
        self.color[row, col] = idx

    def row_text(self, r: int) -> Text:
        out = Text()
        bits = self.bits[r]
        colors = self.color[r]
        start = 0
        for c in range(1, self.cols + 1):
            if c == self.cols or colors[c] != colors[start]:
                chunk = "".join(chr(0x2800 + int(b)) if b else " " for b in bits[start:c])
                ci = int(colors[start])
                out.append(chunk, style=self.palette[ci] if ci >= 0 else "")
                start = c
        return out


def append_runs(text: Text, chars: Sequence[str], styles: Sequence[str]) -> None:
    """Append one cell per char, as one span per run of cells in the same style: a span per cell
    would make every repaint of the chart many times slower."""
    start = 0
    for c in range(1, len(chars) + 1):
        if c == len(chars) or styles[c] != styles[start]:
            text.append("".join(chars[start:c]), style=styles[start])
            start = c


def _columns(xs: np.ndarray, x0: float, x1: float, dx: int) -> np.ndarray:
    if x1 <= x0:
        return np.full(xs.shape, dx - 1, dtype=np.int64)
    return np.clip(np.round((xs - x0) / (x1 - x0) * (dx - 1)), 0, dx - 1).astype(np.int64)


def _per_column(cols: np.ndarray, values: np.ndarray, dx: int) -> np.ndarray:
    """Max of the finite values falling into each dot column, interpolated across gaps."""
    out = np.full(dx, np.nan)
    finite = ~np.isnan(values)
    if not finite.any():
        return out
    c, v = cols[finite], values[finite]
    acc = np.full(dx, -np.inf)
    np.maximum.at(acc, c, v)
    idx = np.nonzero(acc > -np.inf)[0]
    out[idx] = acc[idx]
    if idx.size >= 2:
        span = np.arange(idx[0], idx[-1] + 1)
        fill = np.interp(span, idx, np.where(np.isinf(out[idx]), 1e300, out[idx]))
        out[span] = np.where(fill >= 1e300, np.inf, fill)
    return out


def _spans(cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dots of vertical runs lo..hi (inclusive) in each column, vectorised."""
    lengths = np.maximum(hi - lo + 1, 0)
    total = int(lengths.sum())
    xs = np.repeat(cols, lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    ys = np.repeat(lo, lengths) + (np.arange(total) - starts)
    return xs, ys


def line_chart(
    xs: Sequence[float],
    series: Sequence[Line | Band],
    width: int,
    height: int,
    *,
    thresholds: Sequence[Threshold] = (),
    y_min: float = 0.0,
    y_max: float | None = None,
    y_format: Callable[[float], str] = _default_fmt,
    gutter: int = 6,
    x_range: tuple[float, float] | None = None,
    log_y: bool = False,
) -> Text:
    """A braille chart `width` x `height` cells with a y-axis gutter; values above y_max are clipped.

    `log_y`: a logarithmic y axis from just under the smallest positive value to the largest value
    or threshold, so typical values and a limit far above them both show (y_min/y_max ignored)."""
    if log_y:
        series, thresholds, y_min, y_max, y_format = _log_axis(series, thresholds, y_format)
    width, height = max(width, gutter + 3), max(height, 2)
    cols = width - gutter - 1
    canvas = _Canvas(cols, height)
    x = np.asarray(xs, dtype=float)
    data_max = -math.inf
    for s in series:
        arr = np.asarray(s.upper if isinstance(s, Band) else s.values, dtype=float)
        finite = arr[np.isfinite(arr)]
        if finite.size:
            data_max = max(data_max, float(finite.max()))
    for th in thresholds:
        if math.isfinite(th.y):
            data_max = max(data_max, th.y * 1.15)
    top = y_max if y_max is not None else (data_max if math.isfinite(data_max) else 1.0)
    if top <= y_min:
        top = y_min + 1.0
    span = top - y_min

    def dot_rows(v: np.ndarray) -> np.ndarray:
        clipped = np.where(np.isinf(v), top, np.clip(v, y_min, top))
        return np.round((clipped - y_min) / span * (canvas.dy - 1)).astype(np.int64)

    for th in thresholds:
        if not math.isfinite(th.y) or not y_min <= th.y <= top:
            continue
        dxs = np.arange(0, canvas.dx, 3)
        canvas.plot(dxs, np.full(dxs.shape, dot_rows(np.array([th.y]))[0]), th.color)

    if x.size:
        x0, x1 = x_range if x_range is not None else (float(x[0]), float(x[-1]))
        cols_idx = _columns(x, x0, x1, canvas.dx)
        for s in series:
            if isinstance(s, Band):
                lo = _per_column(cols_idx, np.asarray(s.lower, dtype=float), canvas.dx)
                hi = _per_column(cols_idx, np.asarray(s.upper, dtype=float), canvas.dx)
                ok = np.nonzero(~(np.isnan(lo) | np.isnan(hi)) & (hi > lo))[0]
                if ok.size:
                    bottom = dot_rows(lo[ok]) + (lo[ok] > y_min)
                    canvas.plot(*_spans(ok, bottom, dot_rows(hi[ok])), s.color)
            else:
                v = _per_column(cols_idx, np.asarray(s.values, dtype=float), canvas.dx)
                ok = np.nonzero(~np.isnan(v))[0]
                if ok.size == 0:
                    continue
                rows = dot_rows(v[ok])
                prev = np.concatenate([rows[:1], rows[:-1]])
                canvas.plot(*_spans(ok, np.minimum(prev, rows), np.maximum(prev, rows)), s.color)

    labels: dict[int, tuple[str, str]] = {0: (y_format(top), "dim"), height - 1: (y_format(y_min), "dim")}
    names: dict[int, list[tuple[str, str]]] = {}
    for th in thresholds:
        if math.isfinite(th.y) and y_min <= th.y <= top:
            r = height - 1 - int(dot_rows(np.array([th.y]))[0]) // 4
            value = y_format(th.y)
            shared = names.get(r) and labels.get(r)
            if shared and len(shared[0]) + len(value) + 1 <= gutter:  # two limits on one row: both
                value = f"{shared[0]}/{value}"
            labels[r] = (value, th.color)
            if th.label:
                names.setdefault(r, []).append((th.label, th.color))
    text = Text(no_wrap=True, overflow="crop")
    for r in range(height):
        label, style = labels.get(r, ("", "dim"))
        text.append(label[:gutter].rjust(gutter), style=style)
        text.append("┤" if r in labels else "│", style="dim")
        row = canvas.row_text(r)
        named = names.get(r, [])
        room = cols - sum(len(n) + 1 for n, _ in named)
        if named and room >= cols // 2:  # the thresholds' names at the right end of their line
            row.truncate(room)
            for name, color in named:
                row.append(" ").append(name, style=color)
        text.append_text(row)
        if r < height - 1:
            text.append("\n")
    return text


def _log10(values: Sequence[float]) -> list[float]:
    arr = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.isinf(arr) & (arr > 0), np.inf, np.where(arr > 0, np.log10(arr), np.nan))
    return out.tolist()


def _log_axis(
    series: Sequence[Line | Band], thresholds: Sequence[Threshold], y_format: Callable[[float], str]
) -> tuple[list[Line | Band], list[Threshold], float, float, Callable[[float], str]]:
    """The chart's series, thresholds, range and labels on a log10 axis."""
    logged: list[Line | Band] = [
        Band(_log10(s.lower), _log10(s.upper), s.color, s.label)
        if isinstance(s, Band)
        else Line(_log10(s.values), s.color, s.label)
        for s in series
    ]
    marks = [
        Threshold(math.log10(t.y), t.color, t.label) for t in thresholds if t.y > 0 and math.isfinite(t.y)
    ]
    finite = [
        v
        for s in logged
        for v in (s.upper if isinstance(s, Band) else s.values)
        if math.isfinite(v)
    ] + [t.y for t in marks]
    lo = math.floor(min(finite) - 0.05) if finite else 0.0
    hi = max(finite) + 0.1 if finite else lo + 1.0
    if hi - lo < 1.0:
        hi = lo + 1.0
    return logged, marks, lo, hi, lambda v: y_format(10.0**v)


def _last_per_column(cols: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The last value falling into each of n columns, carried forward across empty columns."""
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, cols, np.arange(cols.size))
    out = np.full(n, np.nan)
    have = last >= 0
    out[have] = values[last[have]]
    if have.any():
        first = int(np.argmax(have))
        idx = np.where(have, np.arange(n), 0)
        np.maximum.accumulate(idx, out=idx)
        out[first:] = out[idx[first:]]
    return out


def stacked_chart(
    xs: Sequence[float],
    layers: Sequence[tuple[Sequence[float], str]],
    width: int,
    height: int,
    *,
    line: tuple[Sequence[float], str] | None = None,
    gutter: int = 6,
    y_format: Callable[[float], str] = _default_fmt,
) -> Text:
    """Stacked columns of solid blocks (bottom layer first), eighth-cell resolution at every layer
    boundary, and an optional level line (e.g. target N) drawn as ─ where the stack is below it."""
    width, height = max(width, gutter + 3), max(height, 2)
    cols = width - gutter - 1
    x = np.asarray(xs, dtype=float)
    n_layers = len(layers)
    tops = np.zeros((n_layers, cols))
    line_v = np.full(cols, np.nan)
    if x.size:
        ci = _columns(x, float(x[0]), float(x[-1]), cols)
        running = np.zeros(cols)
        for k, (values, _) in enumerate(layers):
            v = np.nan_to_num(_last_per_column(ci, np.asarray(values, dtype=float), cols))
            running = running + v
            tops[k] = running
        if line is not None:
            line_v = _last_per_column(ci, np.asarray(line[0], dtype=float), cols)
    line_peak = float(np.nanmax(line_v)) if np.isfinite(line_v).any() else 0.0
    peak = max(float(tops.max()) if tops.size else 0.0, line_peak)
    top = peak if peak > 0 else 1.0
    eighths = np.round(tops / top * height * 8).astype(np.int64)
    line_row = np.where(np.isfinite(line_v), np.round(line_v / top * height * 8), -1).astype(np.int64)
    colors = [c for _, c in layers]
    text = Text(no_wrap=True, overflow="crop", end="")
    for r in range(height):
        label = y_format(top) if r == 0 else y_format(0.0) if r == height - 1 else ""
        text.append(label[:gutter].rjust(gutter), style="dim")
        text.append("┤" if label else "│", style="dim")
        base = (height - 1 - r) * 8
        chars: list[str] = []
        styles: list[str] = []
        for c in range(cols):
            col_tops = eighths[:, c]
            ch, style = " ", ""
            below = int(np.searchsorted(col_tops, base, side="right"))
            if below < n_layers:
                fill = int(col_tops[below]) - base
                if fill >= 8:
                    ch, style = "█", colors[below]
                else:
                    above = next(
                        (k for k in range(below + 1, n_layers) if col_tops[k] > col_tops[below]), None
                    )
                    ch = _EIGHTHS[fill]
                    style = colors[below] + (f" on {colors[above]}" if above is not None else "")
            if ch == " " and line is not None and base <= line_row[c] < base + 8:
                frac = line_row[c] - base
                ch, style = ("▔" if frac >= 6 else "─" if frac >= 3 else "▁"), line[1]
            chars.append(ch)
            styles.append(style)
        append_runs(text, chars, styles)
        if r < height - 1:
            text.append("\n")
    return text


def histogram(
    counts: Sequence[int],
    edges: Sequence[float],
    width: int,
    height: int,
    *,
    floor: float | None = None,
    marker: float | None = None,
    good: str = "green",
    bad: str = "red",
    marker_style: str = "bold",
    fmt: Callable[[float], str] = _default_fmt,
    floors: Sequence[tuple[float, str]] = (),
) -> Text:
    """Vertical bars over `edges`; bins under `floor` in `bad`. The last row is the axis with
    the floor (▲) and marker (◆) positions.

    `floors`: several floors (one per SLO tier), each (value, colour), instead of `floor`: a bin
    under any of them takes the colour of the lowest floor above it (the least demanding tier
    its requests are too slow for); each floor is marked ▲ on the axis, labelled where it fits;
    floors past the axis are named at its right end, followed by "›"."""
    marks = [(f, c) for f, c in floors if math.isfinite(f)]
    if not marks and floor is not None and math.isfinite(floor):
        marks = [(floor, bad)]
    marks.sort()
    width, height = max(width, 8), max(height, 2)
    text = Text(no_wrap=True, overflow="crop")
    if len(edges) < 2 or len(counts) != len(edges) - 1:
        text.append("no completed requests yet".center(width)[:width], style="dim")
        for _ in range(height - 1):
            text.append("\n")
        return text
    lo, hi = float(edges[0]), float(edges[-1])
    if hi <= lo:
        hi = lo + 1.0
    edge_arr = np.asarray(edges, dtype=float)
    count_arr = np.asarray(counts, dtype=float)
    if len(counts) <= width:
        # Fewer bins than columns: each column shows the bin its centre falls in.
        centres = lo + (np.arange(width) + 0.5) / width * (hi - lo)
        cols = count_arr[np.clip(np.searchsorted(edge_arr, centres, side="right") - 1, 0, len(counts) - 1)]
    else:
        centers = (edge_arr[:-1] + edge_arr[1:]) / 2
        col_of = np.clip(((centers - lo) / (hi - lo) * width).astype(np.int64), 0, width - 1)
        cols = np.zeros(width)
        np.add.at(cols, col_of, count_arr)
    bar_rows = height - 1
    peak = cols.max()
    eighths = np.zeros(width, dtype=np.int64) if peak <= 0 else np.round(cols / peak * bar_rows * 8)
    col_value = lo + (np.arange(width) + 0.5) / width * (hi - lo)
    styles = [next((c for f, c in marks if v < f), good) for v in col_value]
    for r in range(bar_rows):
        level = (bar_rows - 1 - r) * 8
        chars = []
        for c in range(width):
            fill = int(min(8, max(0, eighths[c] - level)))
            if fill == 0 and r == bar_rows - 1 and cols[c] > 0:
                fill = 1
            chars.append(_EIGHTHS[fill])
        append_runs(text, chars, styles)
        text.append("\n")

    axis = [" "] * width
    axis_styles = ["dim"] * width

    def put(s: str, at: int, style: str) -> None:
        at = max(0, min(width - len(s), at))
        if any(ch != " " for ch in axis[at : at + len(s)]):
            return
        for i, ch in enumerate(s):
            axis[at + i] = ch
            axis_styles[at + i] = style

    def col(v: float) -> int:
        return int(np.clip((v - lo) / (hi - lo) * width, 0, width - 1))

    if marker is not None and math.isfinite(marker):
        put("◆", col(marker), marker_style)
    beyond = [(value, style) for value, style in marks if value > hi]
    if beyond:  # floors past the axis: named at its right end, "›" for "further on"
        block = [("▲" + fmt(value) + " ", style) for value, style in beyond]
        if sum(len(b) for b, _ in block) + 1 <= width // 2:
            at = width - 1 - sum(len(b) for b, _ in block)
            for label, style in block:
                put(label, at, style)
                at += len(label)
            put("›", width - 1, "dim")
    for value, style in marks:
        if value > hi:
            continue
        label = "▲" + fmt(value)
        at = col(value)
        if axis[at] != " ":  # the marker sits there: the floor's arrow goes beside it, on its side
            step = 1 if marker is None or not math.isfinite(marker) or value >= marker else -1
            at = min(width - 1, max(0, at + step))
        if axis[at] == " ":
            put(
                label
                if at + len(label) <= width and all(ch == " " for ch in axis[at : at + len(label)])
                else "▲",
                at,
                style,
            )
    put(fmt(lo), 0, "dim")
    put(fmt(hi), width - len(fmt(hi)), "dim")
    append_runs(text, axis, axis_styles)
    return text


def bar(fraction: float, width: int, style: str = "", empty_style: str = "dim") -> Text:
    """A horizontal gauge with eighth-cell resolution."""
    width = max(1, width)
    f = 0.0 if not math.isfinite(fraction) else min(1.0, max(0.0, fraction))
    units = round(f * width * 8)
    full, part = divmod(units, 8)
    text = Text(no_wrap=True)
    text.append("█" * full, style=style)
    rest = width - full
    if rest > 0 and part:
        text.append(" ▏▎▍▌▋▊▉"[part], style=style)
        rest -= 1
    text.append("·" * rest, style=empty_style)
    return text


def _log2_cols(ns: Sequence[int], width: int) -> Callable[[int], int]:
    """Column of an N on the brackets' log2 axis, up to a quarter past the largest N."""
    top = math.log2(max(2, max(ns, default=1) * 1.25))
    return lambda n: round(math.log2(max(1, n)) / top * (width - 1))


def _bracket_line(
    levels: Sequence[tuple[int, str]],
    best_pass: int | None,
    lowest_fail: int | None,
    width: int,
    col: Callable[[int], int],
    styles: tuple[str, str, str, str],
) -> Text:
    """The marks of every level tried (✓ pass, ✗ fail, • undecided) and the bracket drawn thick."""
    pass_style, fail_style, open_style, bracket_style = styles
    line = ["─"] * width
    line_styles = ["dim"] * width
    if best_pass is not None:
        end = col(lowest_fail) if lowest_fail is not None else width - 1
        for c in range(col(best_pass), end + 1):
            line[c], line_styles[c] = "━", bracket_style
    for n, verdict in levels:
        c = col(n)
        if verdict == "pass":
            line[c], line_styles[c] = "✓", pass_style
        elif verdict == "fail":
            line[c], line_styles[c] = "✗", fail_style
        else:
            line[c], line_styles[c] = "•", open_style
    text = Text(no_wrap=True, overflow="crop")
    append_runs(text, line, line_styles)
    return text


def _bracket_labels(
    ns: Sequence[int], firsts: Sequence[tuple[int | None, str]], width: int, col: Callable[[int], int]
) -> Text:
    """The Ns under the axis: `firsts` (N, style) placed before the others, each where it fits."""
    labels = [" "] * width
    lstyles = ["dim"] * width

    def put(s: str, at: int, style: str) -> None:
        at = max(0, min(width - len(s), at))
        lo, hi = max(0, at - 1), min(width, at + len(s) + 1)
        if any(ch != " " for ch in labels[lo:hi]):
            return
        for i, ch in enumerate(s):
            labels[at + i], lstyles[at + i] = ch, style

    for n, style in firsts:
        if n is not None:
            put(str(n), col(n) - len(str(n)) // 2, style)
    for n in sorted(ns, reverse=True):
        put(str(n), col(n) - len(str(n)) // 2, "dim")
    text = Text(no_wrap=True, overflow="crop")
    append_runs(text, labels, lstyles)
    return text


def bracket(
    levels: Sequence[tuple[int, str]],
    best_pass: int | None,
    lowest_fail: int | None,
    width: int,
    *,
    pass_style: str = "green",
    fail_style: str = "red",
    open_style: str = "yellow",
    bracket_style: str = "bold",
) -> Text:
    """Two lines on a log2 axis: every level tried (✓ pass, ✗ fail, • undecided) and the bracket
    [best pass, lowest fail) that N* lies in, drawn thick."""
    width = max(width, 10)
    col = _log2_cols([n for n, _ in levels] + [x for x in (best_pass, lowest_fail) if x], width)
    styles = (pass_style, fail_style, open_style, bracket_style)
    text = _bracket_line(levels, best_pass, lowest_fail, width, col, styles)
    text.append("\n")
    firsts = [(best_pass, pass_style), (lowest_fail, fail_style)]
    text.append_text(_bracket_labels([n for n, _ in levels], firsts, width, col))
    return text


@dataclass(frozen=True, slots=True)
class TierBracket:
    """One tier's row of `brackets`: the levels as that tier judged them, and its bracket."""

    levels: Sequence[tuple[int, str]]
    best_pass: int | None
    lowest_fail: int | None


def brackets(
    tiers: Sequence[TierBracket],
    width: int,
    *,
    pass_style: str = "green",
    fail_style: str = "red",
    open_style: str = "yellow",
    bracket_style: str = "bold",
) -> tuple[list[Text], Text]:
    """Several tiers' brackets on one shared log2 axis: a line of marks per tier (as `bracket`
    draws it), and one line of the Ns tried under them all."""
    width = max(width, 10)
    ns = sorted({n for t in tiers for n, _ in t.levels})
    ends = [x for t in tiers for x in (t.best_pass, t.lowest_fail) if x]
    col = _log2_cols(ns + ends, width)
    styles = (pass_style, fail_style, open_style, bracket_style)
    lines = [_bracket_line(t.levels, t.best_pass, t.lowest_fail, width, col, styles) for t in tiers]
    return lines, _bracket_labels(ns, [], width, col)


@dataclass(frozen=True, slots=True)
class HBar:
    """One bar of `hbars`: its label, value (None: no figure), the value as written, its colour."""

    label: str
    value: float | None
    text: str
    color: str
    note: str = ""
    """Said in place of the bar when there is none to draw (why there is no figure)."""


def hbars(bars: Sequence[HBar], width: int) -> Text:
    """Horizontal bars on one scale from zero, one line each: label, bar, value as written."""
    label_w = max((len(b.label) for b in bars), default=0)
    text_w = max((len(b.text) for b in bars), default=0)
    bar_w = max(4, width - label_w - text_w - 2)
    top = max((b.value for b in bars if b.value is not None and math.isfinite(b.value)), default=0.0)
    out = Text(no_wrap=True, overflow="ellipsis", end="")
    for i, b in enumerate(bars):
        if i:
            out.append("\n")
        out.append(b.label.rjust(label_w) + " ", style=b.color)
        if b.note and not b.value:
            note = b.note if len(b.note) <= bar_w else b.note[: bar_w - 1] + "…"
            out.append(note.ljust(bar_w), style="dim")
        else:
            fraction = b.value / top if b.value is not None and top > 0 else 0.0
            out.append_text(bar(fraction, bar_w, b.color))
        out.append(" " + b.text.rjust(text_w), style="bold" if b.value else "dim")
    return out
