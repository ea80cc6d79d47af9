"""Inline SVG charts for the web app's pages: values over time, as points joined by a line,
with dashed threshold lines.

Built on the model card's primitives (:mod:`mlops_azure.responsible._plots_svg`): every point
is a ``class="mark"`` element with a ``<title>`` tooltip (the browser test counts marks), the
root ``<svg data-plot=KIND id=...>`` has a ``<title>`` a screen reader announces, and every text
from the data (feature names, models) is escaped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mlops_azure.responsible._plots_svg import (
    BLUE,
    MUTED,
    ORANGE,
    RED,
    Scale,
    esc,
    legend,
    line,
    nice_ticks,
    num,
    svg_open,
    text,
    y_axis,
)

WIDTH, HEIGHT = 520, 240
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 14, 58


@dataclass(frozen=True)
class Point:
    """One value at one time; ``alarm`` draws it as an alarm (red, larger, ringed)."""

    at: datetime
    value: float
    tip: str
    alarm: bool = False


@dataclass(frozen=True)
class Series:
    """Points of one metric; ``square`` tells it apart from a round series without colour."""

    label: str
    points: Sequence[Point]
    colour: str = BLUE
    square: bool = False
    #: Written on each mark as ``data-series`` (so a test can count one series' marks).
    key: str = ""


@dataclass(frozen=True)
class Threshold:
    """A dashed horizontal line at ``value`` (drawn in ``colour``), labelled at its right."""

    value: float
    label: str
    colour: str = MUTED


def safe_id(*parts: str) -> str:
    """An element id from free text (a feature name may hold spaces, quotes, anything)."""
    return "-".join(re.sub(r"[^A-Za-z0-9_-]+", "_", p).strip("_") or "x" for p in parts)


def time_chart(kind: str, ident: str, title: str, series: Sequence[Series],
               thresholds: Sequence[Threshold] = (), *, y_label: str = "value") -> str:
    """``series`` over time on one linear y axis from 0, with ``thresholds`` dashed.

    Non-finite values are left out; with no point at all the chart says so and has no mark.
    """
    kept = [Series(s.label, [p for p in s.points if math.isfinite(p.value)], s.colour,
                   s.square, s.key) for s in series]
    points = [p for s in kept for p in s.points]
    desc = (f"{len(points)} points of {', '.join(s.label for s in kept) or 'nothing'} over time"
            + "".join(f"; {t.label} at {t.value:g}" for t in thresholds))
    parts = [svg_open(kind, ident, WIDTH, HEIGHT, title, desc)]
    if not points:
        parts.append(text(WIDTH / 2, HEIGHT / 2, "No values recorded yet", anchor="middle",
                          colour=MUTED))
        return "".join(parts) + "</svg>"
    times = [p.at.timestamp() for p in points]
    first, last = min(times), max(times)
    pad = (last - first) * 0.04 or 60.0  # one point (or one moment): centred in a 2-minute span
    x = Scale(first - pad, last + pad, LEFT, WIDTH - RIGHT)
    top = max([p.value for p in points] + [t.value for t in thresholds]) * 1.12 or 1.0
    ticks = nice_ticks(0.0, top, 4)
    y = Scale(0.0, ticks[-1], HEIGHT - BOTTOM, TOP)
    parts.append(y_axis(y, ticks, LEFT, WIDTH - RIGHT, y_label))
    parts.append(_time_axis(x, HEIGHT - BOTTOM))
    for threshold in thresholds:
        level = y(threshold.value)
        parts.append(line(LEFT, level, WIDTH - RIGHT, level, threshold.colour, width=1.5,
                          dash="6 4", extra=' class="threshold"'))
        parts.append(text(WIDTH - RIGHT - 4, level - 4, f"{threshold.label} {threshold.value:g}",
                          anchor="end", size=11, colour=threshold.colour))
    for s in kept:
        ordered = sorted(s.points, key=lambda p: p.at)
        if len(ordered) > 1:
            path = " ".join(f"{num(x(p.at.timestamp()))},{num(y(p.value))}" for p in ordered)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{s.colour}" '
                         'stroke-width="1.5" stroke-opacity="0.6"/>')
        parts.extend(_mark(x(p.at.timestamp()), y(p.value), p, s) for p in ordered)
    entries = [(s.colour, s.label) for s in kept]
    if any(p.alarm for p in points):
        entries.append((RED, "drifted"))
    parts.append(legend(LEFT, HEIGHT - 8, entries))
    return "".join(parts) + "</svg>"


def _mark(cx: float, cy: float, point: Point, series: Series) -> str:
    fill = RED if point.alarm else series.colour
    size = 5.5 if point.alarm else 4.0
    ring = ' stroke="#1f2933" stroke-width="1.5"' if point.alarm else ' stroke="#fff" stroke-width="1"'
    data = (f' data-series="{esc(series.key)}"' if series.key else "") + (
        ' data-alarm="1"' if point.alarm else "")
    tip = f"<title>{esc(point.tip)}</title>"
    if series.square:
        return (f'<rect class="mark"{data} x="{num(cx - size)}" y="{num(cy - size)}" '
                f'width="{num(2 * size)}" height="{num(2 * size)}" fill="{fill}"{ring}>{tip}</rect>')
    return (f'<circle class="mark"{data} cx="{num(cx)}" cy="{num(cy)}" r="{num(size)}" '
            f'fill="{fill}"{ring}>{tip}</circle>')


def _time_axis(x: Scale, y_axis_at: float) -> str:
    """Four or five dates along the bottom, precise enough to tell them apart."""
    span = x.hi - x.lo
    pattern = ("%H:%M:%S" if span < 3600 else "%m-%d %H:%M" if span < 3 * 86400
               else "%Y-%m-%d")
    parts = [line(x.start, y_axis_at, x.end, y_axis_at, MUTED)]
    count = 4
    for i in range(count + 1):
        at = x.lo + span * (0.05 + 0.9 * i / count)
        where = x(at)
        label = datetime.fromtimestamp(at).astimezone().strftime(pattern)
        parts.append(line(where, y_axis_at, where, y_axis_at + 4, MUTED))
        parts.append(text(where, y_axis_at + 16, label, anchor="middle", size=11, colour=MUTED))
    return "".join(parts)


#: The PSI series' colour and the JS series' (told apart by shape too).
PSI_COLOUR, JS_COLOUR = BLUE, ORANGE
