"""SVG primitives for the model card's plots: escaping, number formats, scales, axes, colours.

Everything here returns strings and formats numbers with a fixed precision, so the same input
gives the same bytes (the card is hashed). Data elements carry ``class="mark"``: the browser test
counts them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

#: Palette (colour-blind friendly, prints in grey distinguishably): primary, secondary, alarm.
BLUE = "#2f6db5"
ORANGE = "#e08a2c"
RED = "#c8102e"
GREY = "#9aa3ad"
INK = "#1f2933"
MUTED = "#5f6b7a"
GRID = "#e3e7ec"
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif\""


def esc(value: object) -> str:
    """Text and attribute values, escaped (quotes too)."""
    return escape(str(value), quote=True)


def num(value: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros, no ``-0``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt(value: float | None, digits: int = 3) -> str:
    """A value for a label or table: ``digits`` significant digits, or "n/a"."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) >= 10 ** digits or abs(value) < 10 ** -(digits + 1)):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step + 1e-9) * step
    ticks = []
    value = start
    while value <= high + step * 1e-6:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high - step * 1e-6:
        ticks.append(round(value, 12))
    return ticks


@dataclass(frozen=True)
class Scale:
    """A linear map from data [lo, hi] to pixels [start, end]."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo or 1.0
        return self.start + (value - self.lo) / span * (self.end - self.start)


def svg_open(plot: str, ident: str, width: int, height: int, title: str, desc: str) -> str:
    """The root element; ``title``/``desc`` are what a screen reader (and the test) reads."""
    # No xmlns: inline SVG in HTML does not need it, and the page then holds no URL at all.
    return (f'<svg data-plot="{esc(plot)}" id="{esc(ident)}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-labelledby="{esc(ident)}-title" {FONT} font-size="12" fill="{INK}">'
            f'<title id="{esc(ident)}-title">{esc(title)}</title><desc>{esc(desc)}</desc>')


def text(x: float, y: float, label: object, *, anchor: str = "start", size: int = 12,
         colour: str = INK, weight: str = "normal", extra: str = "") -> str:
    """A text element; ``label`` is escaped."""
    bold = ' font-weight="bold"' if weight == "bold" else ""
    tint = f' fill="{colour}"' if colour != INK else ""
    return (f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}" font-size="{size}"'
            f'{tint}{bold}{extra}>{esc(label)}</text>')


def line(x1: float, y1: float, x2: float, y2: float, colour: str = GRID, *, width: float = 1,
         dash: str = "", extra: str = "") -> str:
    """A line; ``dash`` is a stroke-dasharray."""
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" stroke="{colour}" '
            f'stroke-width="{num(width)}"{dashed}{extra}/>')


def rect(x: float, y: float, w: float, h: float, fill: str, *, mark: bool = True,
         tip: str = "", extra: str = "") -> str:
    """A rectangle, normalised for negative sizes; ``tip`` becomes a hover tooltip."""
    if w < 0:
        x, w = x + w, -w
    if h < 0:
        y, h = y + h, -h
    cls = ' class="mark"' if mark else ""
    body = f"<title>{esc(tip)}</title></rect>" if tip else "/>"
    return (f'<rect{cls} x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" '
            f'fill="{fill}"{extra}' + (">" + body if tip else body))


def x_axis(scale: Scale, ticks: Sequence[float], y_top: float, y_axis: float, label: str) -> str:
    """Vertical grid lines at ``ticks``, their values under ``y_axis`` and the axis label."""
    parts = []
    for tick in ticks:
        x = scale(tick)
        parts.append(line(x, y_top, x, y_axis))
        parts.append(text(x, y_axis + 14, fmt(tick), anchor="middle", size=11, colour=MUTED))
    parts.append(line(scale.start, y_axis, scale.end, y_axis, MUTED))
    parts.append(text((scale.start + scale.end) / 2, y_axis + 32, label, anchor="middle",
                      colour=MUTED))
    return "".join(parts)


def y_axis(scale: Scale, ticks: Sequence[float], x_left: float, x_right: float, label: str) -> str:
    """Horizontal grid lines at ``ticks``, their values left of ``x_left`` and the axis label."""
    parts = []
    for tick in ticks:
        y = scale(tick)
        parts.append(line(x_left, y, x_right, y))
        parts.append(text(x_left - 6, y + 4, fmt(tick), anchor="end", size=11, colour=MUTED))
    parts.append(line(x_left, scale.start, x_left, scale.end, MUTED))
    middle = (scale.start + scale.end) / 2
    parts.append(text(14, middle, label, anchor="middle", colour=MUTED,
                      extra=f' transform="rotate(-90 14 {num(middle)})"'))
    return "".join(parts)


def legend(x: float, y: float, entries: Sequence[tuple[str, str]]) -> str:
    """Swatches with labels in a row; an entry is (fill, label), the fill may be a url(#...)."""
    parts = []
    for fill, label in entries:
        parts.append(rect(x, y - 9, 12, 12, fill, mark=False, extra=f' stroke="{MUTED}" stroke-width="0.5"'))
        parts.append(text(x + 17, y + 1, label, size=11, colour=MUTED))
        x += 30 + 6.5 * len(label)
    return "".join(parts)


def value_colour(value: float | None) -> str:
    """Blue (low feature value) through purple to red (high); grey when unknown."""
    if value is None or not math.isfinite(value):
        return GREY
    t = min(max(value, 0.0), 1.0)
    low, high = (0x2f, 0x6d, 0xb5), (0xd6, 0x27, 0x3f)
    r, g, b = (round(a + (c - a) * t) for a, c in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def hatch(ident: str, colour: str) -> str:
    """A diagonal-stripes pattern (for groups too small to trust); the id is per plot."""
    return (f'<pattern id="{esc(ident)}" patternUnits="userSpaceOnUse" width="6" height="6" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eef0f3"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{colour}" stroke-width="3"/></pattern>')


def shorten(label: str, limit: int = 28) -> str:
    """A label cut to ``limit`` characters with an ellipsis (the full text goes in a tooltip)."""
    return label if len(label) <= limit else label[: limit - 1] + "\u2026"
