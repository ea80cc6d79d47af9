"""The prediction page's two plots, inline SVG drawn with the model card's primitives: a row's
top contributions (``data-plot="contributions"``) and a series' history with the forecast
(``data-plot="series"``). Every data element has ``class="mark"``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from mlops_azure.responsible._plots_svg import (
    BLUE,
    MUTED,
    ORANGE,
    RED,
    Scale,
    esc,
    fmt,
    line,
    nice_ticks,
    num,
    rect,
    shorten,
    svg_open,
    text,
    x_axis,
    y_axis,
)

WIDTH = 760
_LABELS = 230  # room on the left for "feature = value"


@dataclass(frozen=True)
class Contribution:
    """One feature's share of a prediction, with the value the row had."""

    feature: str
    value: str
    contribution: float


def top_contributions(contributions: Mapping[str, float], values: Mapping[str, str],
                      count: int = 10) -> list[Contribution]:
    """The ``count`` largest contributions by size, largest first, each with the row's value
    as the user gave it."""
    ranked = sorted(contributions.items(), key=lambda item: (-abs(item[1]), item[0]))[:count]
    return [Contribution(name, values.get(name, "").strip(), value) for name, value in ranked]


def contributions_chart(ident: str, items: Sequence[Contribution], base_value: float,
                        space: str) -> Markup:
    """Horizontal bars from zero: red raises the prediction, blue lowers it."""
    row_h, top = 22, 40
    bottom = top + row_h * len(items)
    reach = max((abs(c.contribution) for c in items), default=1.0) or 1.0
    ticks = nice_ticks(-reach, reach, 6)
    scale = Scale(ticks[0], ticks[-1], _LABELS, WIDTH - 30)
    parts = [svg_open("contributions", ident, WIDTH, bottom + 48, "Top contributions",
                      f"Each feature's contribution to this prediction ({space}), largest first; "
                      f"they add to the base value {fmt(base_value)} to give the prediction"),
             text(_LABELS, 22, "Raises the prediction (red) or lowers it (blue)", colour=MUTED),
             x_axis(scale, ticks, top - 6, bottom + 4, f"contribution ({space})"),
             line(scale(0.0), top - 6, scale(0.0), bottom + 4, MUTED)]
    for i, item in enumerate(items):
        y = top + i * row_h
        colour = RED if item.contribution > 0 else BLUE
        label = f"{item.feature} = {_short(item.value)}" if item.value else item.feature
        parts.append(rect(scale(0.0), y + 3, scale(item.contribution) - scale(0.0), row_h - 6,
                          colour, tip=f"{label}: {fmt(item.contribution)}"))
        parts.append(text(_LABELS - 8, y + 15, shorten(label, 30), anchor="end"))
    parts.append("</svg>")
    return Markup("".join(parts))


def series_chart(ident: str, times: Sequence[datetime], values: Sequence[float],
                 forecasts: Sequence[tuple[datetime, float]], target: str, series: str) -> Markup:
    """The series' history as a line with a point per period, and each forecast at its time,
    the first joined to the last point of history by a dashed line."""
    height, left, top, bottom = 320, 70, 30, 260
    ahead = sorted(forecasts)
    moments = [t.timestamp() for t in times]
    x = Scale(moments[0], max([moments[-1], *(t.timestamp() for t, _ in ahead)]), left,
              WIDTH - 30)
    guesses = [v for _, v in ahead]
    y_ticks = nice_ticks(min([0.0, *values, *guesses]), max([*values, *guesses]), 5)
    y = Scale(y_ticks[0], y_ticks[-1], bottom, top)
    when = ", ".join(f"{t:%Y-%m-%d}" for t, _ in ahead[:3]) + (" ..." if len(ahead) > 3 else "")
    parts = [svg_open("series", ident, WIDTH, height, f"{target}: history and forecast",
                      f"{target} of {series} in the training data, one point per period, and "
                      f"the forecast for {when}"),
             y_axis(y, y_ticks, left, WIDTH - 30, target)]
    every = max(1, len(times) // 6)
    for t in [*times[::every], *([ahead[-1][0]] if ahead else [])]:
        parts.append(text(x(t.timestamp()), bottom + 16, f"{t:%Y-%m-%d}", anchor="middle",
                          size=11, colour=MUTED))
    parts.append(line(left, bottom, WIDTH - 30, bottom, MUTED))
    points = " ".join(f"{num(x(m))},{num(y(v))}" for m, v in zip(moments, values, strict=True))
    parts.append(f'<polyline points="{points}" fill="none" stroke="{BLUE}" stroke-width="1.5"/>')
    for t, m, v in zip(times, moments, values, strict=True):
        parts.append(f'<circle class="mark" data-kind="history" cx="{num(x(m))}" '
                     f'cy="{num(y(v))}" r="2.5" fill="{BLUE}"><title>{esc(f"{t:%Y-%m-%d}")}: '
                     f'{esc(fmt(v, 4))}</title></circle>')
    if ahead:
        first_x, first_y = x(ahead[0][0].timestamp()), y(ahead[0][1])
        parts.append(line(x(moments[-1]), y(values[-1]), first_x, first_y, ORANGE, width=1.5,
                          dash="4 3"))
    for at, value in ahead:
        fx, fy = x(at.timestamp()), y(value)
        parts.append(f'<circle class="mark" data-kind="forecast" cx="{num(fx)}" cy="{num(fy)}" '
                     f'r="5" fill="{ORANGE}"><title>forecast {esc(f"{at:%Y-%m-%d}")}: '
                     f'{esc(fmt(value, 4))}</title></circle>')
    if ahead:
        parts.append(text(x(ahead[0][0].timestamp()) - 8, y(ahead[0][1]) - 9, "forecast",
                          anchor="end", size=11, colour=ORANGE))
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(value: str) -> str:
    """A number in a bar's label with four significant digits (the table beside it has all)."""
    try:
        return fmt(float(value), 4) if "." in value or "e" in value.lower() else value
    except ValueError:
        return value
