"""The model card's plots as inline SVG: importance, SHAP summary, per-group metric, worst cohorts
and mitigation before/after. Each is one ``<svg data-plot="...">`` with a title, axes and labels,
and draws only from the numbers it is given (no JavaScript)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mlops_azure.responsible._plots_svg import (
    BLUE,
    GREY,
    INK,
    MUTED,
    ORANGE,
    RED,
    Scale,
    esc,
    fmt,
    hatch,
    legend,
    line,
    nice_ticks,
    num,
    rect,
    shorten,
    svg_open,
    text,
    value_colour,
    x_axis,
    y_axis,
)

WIDTH = 760
_LABELS = 190  # room on the left for feature, group and cohort names


@dataclass(frozen=True)
class Importance:
    """One feature's aggregate importance: share of total gain and mean |SHAP| (either unknown)."""

    feature: str
    gain_share: float | None
    mean_abs_shap: float | None


@dataclass(frozen=True)
class Bar:
    """One bar: a group or cohort with its metric value and size; untrusted bars are hatched."""

    label: str
    value: float | None
    rows: int | None = None
    trusted: bool = True


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def importance_plot(ident: str, rows: Sequence[Importance]) -> str:
    """Two horizontal bar panels sharing the feature axis: share of gain, mean |SHAP|."""
    row_h, top = 20, 44
    height = top + row_h * len(rows) + 48
    panel = (WIDTH - _LABELS - 40) / 2
    parts = [svg_open("importance", ident, WIDTH, height, "Feature importance",
                      "Share of total split gain and mean absolute SHAP value per feature")]
    bottom = top + row_h * len(rows)
    for index, (title, values, colour, unit) in enumerate((
            ("Share of gain", [r.gain_share for r in rows], GREY, "share of total gain"),
            ("Mean |SHAP|", [r.mean_abs_shap for r in rows], BLUE, "mean |SHAP| (model units)"))):
        x0 = _LABELS + index * (panel + 30)
        ticks = nice_ticks(0.0, max(_finite(values), default=1.0) or 1.0, 4)
        scale = Scale(0.0, ticks[-1], x0, x0 + panel)
        parts.append(text(x0, 24, title, weight="bold"))
        parts.append(x_axis(scale, ticks, top - 6, bottom + 4, unit))
        for i, (row, value) in enumerate(zip(rows, values, strict=True)):
            y = top + i * row_h
            if value is None:
                parts.append(text(x0 + 4, y + 14, "not computed", size=10, colour=MUTED))
                continue
            parts.append(rect(x0, y + 3, scale(value) - x0, row_h - 6, colour,
                              tip=f"{row.feature}: {fmt(value)}"))
    for i, row in enumerate(rows):
        parts.append(text(_LABELS - 8, top + i * row_h + 14, shorten(row.feature), anchor="end"))
    parts.append("</svg>")
    return "".join(parts)


def shap_summary_plot(ident: str, features: Sequence[tuple[str, Sequence[float | None],
                                                            Sequence[float]]]) -> str:
    """One row of dots per feature at its SHAP values, coloured by the (0..1 scaled) feature value
    and stacked where they crowd, like a beeswarm."""
    row_h, top = 26, 44
    bottom = top + row_h * len(features)
    height = bottom + 70
    every = _finite([s for _, _, shap in features for s in shap])
    reach = max((abs(v) for v in every), default=1.0) or 1.0
    ticks = nice_ticks(-reach, reach, 6)
    scale = Scale(ticks[0], ticks[-1], _LABELS, WIDTH - 30)
    parts = [svg_open("shap-summary", ident, WIDTH, height, "SHAP summary",
                      "Each dot is one row: its SHAP value for the feature, coloured from low "
                      "(blue) to high (red) feature value; grey where the value is missing or "
                      "categorical"),
             f'<defs><linearGradient id="{esc(ident)}-scale"><stop offset="0" '
             f'stop-color="{value_colour(0.0)}"/><stop offset="1" stop-color="{value_colour(1.0)}"/>'
             "</linearGradient></defs>",
             x_axis(scale, ticks, top - 4, bottom, "SHAP value (impact on the prediction)"),
             text(_LABELS, 18, "SHAP summary: how each feature moves each prediction", weight="bold"),
             line(scale(0.0), top - 4, scale(0.0), bottom, MUTED)]
    for i, (feature, values, shap) in enumerate(features):
        middle = top + i * row_h + row_h / 2
        parts.append(text(_LABELS - 8, middle + 4, shorten(feature), anchor="end"))
        crowd: dict[int, int] = {}
        dots = []
        for value, impact in zip(values, shap, strict=False):
            if impact is None or not math.isfinite(impact):
                continue
            x = scale(impact)
            slot = round(x / 2.5)  # dots closer than 2.5px share a column and stack outwards
            k = crowd.get(slot, 0)
            crowd[slot] = k + 1
            # 0, +1, -1, +2, -2 ... dot heights from the middle, wrapped inside the row.
            offset = ((k + 1) // 2) * (1 if k % 2 else -1) * 2.2
            offset = math.copysign(abs(offset) % (row_h / 2 - 2), offset)
            dots.append(f'<circle class="mark" cx="{num(x)}" cy="{num(middle + offset)}" r="2.2" '
                        f'fill="{value_colour(value)}"/>')
        parts.append(f'<g fill-opacity="0.8">{"".join(dots)}</g>')
    y = bottom + 46
    parts.append(text(_LABELS, y + 4, "feature value: low", size=11, colour=MUTED, anchor="end"))
    parts.append(rect(_LABELS + 6, y - 6, 120, 10, f"url(#{esc(ident)}-scale)", mark=False))
    parts.append(text(_LABELS + 132, y + 4, "high", size=11, colour=MUTED))
    parts.append(legend(_LABELS + 190, y + 3, [(GREY, "missing or categorical")]))
    parts.append("</svg>")
    return "".join(parts)


def group_plot(ident: str, feature: str, metric: str, bars: Sequence[Bar], overall: float | None,
               limit: float | None, min_rows: int | None) -> str:
    """Vertical bars of ``metric`` per group of ``feature``; hatched grey where the group is too
    small to trust, with the overall value and the policy limit as horizontal lines."""
    left, top, bottom, right = 70, 40, 250, WIDTH - 110
    height = bottom + 70
    values = _finite([b.value for b in bars] + [overall, limit])
    ticks = nice_ticks(0.0, max(values, default=1.0) or 1.0, 5)
    scale = Scale(0.0, ticks[-1], bottom, top)
    slot = (right - left) / max(len(bars), 1)
    pattern = f"{ident}-untrusted"
    parts = [svg_open("groups", ident, WIDTH, height, f"{metric.upper()} by {feature}",
                      f"{metric} per group of {feature}; hatched groups have fewer rows than the "
                      "minimum group size and their metric is not trusted"),
             f"<defs>{hatch(pattern, GREY)}</defs>",
             text(left, 18, f"{metric.upper()} by {feature}", weight="bold"),
             y_axis(scale, ticks, left, right, metric.upper())]
    for i, bar in enumerate(bars):
        x = left + i * slot + slot * 0.2
        centre = x + slot * 0.3
        size = f"n={bar.rows}" if bar.rows is not None else "n=?"
        parts.append(text(centre, bottom + 16, shorten(bar.label, max(int(slot / 7), 6)),
                          anchor="middle"))
        parts.append(text(centre, bottom + 30, size + ("" if bar.trusted else " (too small)"),
                          anchor="middle", size=10, colour=MUTED))
        if bar.value is None:
            parts.append(text(centre, bottom - 6, "not computed", anchor="middle", size=10,
                              colour=MUTED))
            continue
        fill, stroke = (BLUE, "") if bar.trusted else (f"url(#{esc(pattern)})",
                                                       f' stroke="{GREY}" stroke-width="1"')
        parts.append(rect(x, scale(bar.value), slot * 0.6, bottom - scale(bar.value), fill,
                          tip=f"{bar.label}: {metric} {fmt(bar.value)} ({size})", extra=stroke))
        parts.append(text(centre, scale(bar.value) - 5, fmt(bar.value), anchor="middle", size=11,
                          colour=INK if bar.trusted else MUTED))
    entries = [(BLUE, "trusted group"), (f"url(#{esc(pattern)})",
                                         f"fewer than {min_rows} rows" if min_rows else "too small")]
    if overall is not None:
        # Line labels in the right margin: inside the plot they would collide with bar labels.
        parts.append(line(left, scale(overall), right, scale(overall), INK, dash="4 3"))
        parts.append(text(right + 6, scale(overall) + 4, f"overall {fmt(overall)}", size=11))
        entries.append((INK, "overall"))
    if limit is not None:
        parts.append(line(left, scale(limit), right, scale(limit), RED, width=1.5, dash="8 4"))
        parts.append(text(right + 6, scale(limit) + 4, f"limit {fmt(limit)}", size=11, colour=RED))
        entries.append((RED, "policy limit"))
    parts.append(legend(left, height - 12, entries))
    parts.append("</svg>")
    return "".join(parts)


def cohort_plot(ident: str, metric: str, bars: Sequence[Bar], overall: float | None) -> str:
    """Horizontal bars of ``metric`` for the worst cohorts, with the overall value as a line."""
    row_h, top, left = 24, 50, 260
    bottom = top + row_h * len(bars)
    height = bottom + 46
    ticks = nice_ticks(0.0, max(_finite([b.value for b in bars] + [overall]), default=1.0) or 1.0, 5)
    scale = Scale(0.0, ticks[-1], left, WIDTH - 70)
    parts = [svg_open("cohorts", ident, WIDTH, height, f"Worst cohorts by {metric.upper()}",
                      f"The cohorts where {metric} is highest, against the overall value"),
             text(12, 18, f"Worst cohorts by {metric.upper()}", weight="bold"),
             x_axis(scale, ticks, top - 4, bottom, metric.upper())]
    for i, bar in enumerate(bars):
        y = top + i * row_h
        parts.append(text(left - 8, y + 16, shorten(bar.label, 40), anchor="end", size=11))
        if bar.value is None:
            parts.append(text(left + 4, y + 16, "not computed", size=10, colour=MUTED))
            continue
        parts.append(rect(left, y + 4, scale(bar.value) - left, row_h - 8,
                          ORANGE if bar.trusted else GREY,
                          tip=f"{bar.label}: {fmt(bar.value)} (n={bar.rows})"))
        parts.append(text(scale(bar.value) + 4, y + 16, f"{fmt(bar.value)}  n={bar.rows}",
                          size=10, colour=MUTED))
    if overall is not None:
        parts.append(line(scale(overall), top - 8, scale(overall), bottom, INK, width=1.5,
                          dash="4 3"))
        parts.append(text(scale(overall), top - 12, f"overall {fmt(overall)}", anchor="middle",
                          size=11))
    parts.append("</svg>")
    return "".join(parts)


def before_after_plot(ident: str, metric: str, rows: Sequence[tuple[str, float | None,
                                                                  float | None]]) -> str:
    """Pairs of bars (before, after mitigation) of ``metric`` overall and per group."""
    left, top, bottom = 70, 40, 250
    height = bottom + 60
    ticks = nice_ticks(0.0, max(_finite([v for _, b, a in rows for v in (b, a)]), default=1.0)
                       or 1.0, 5)
    scale = Scale(0.0, ticks[-1], bottom, top)
    slot = (WIDTH - left - 20) / max(len(rows), 1)
    parts = [svg_open("mitigation", ident, WIDTH, height, f"{metric.upper()} before and after "
                      "mitigation", f"{metric} overall and per group, before and after"),
             text(left, 18, f"{metric.upper()} before and after mitigation", weight="bold"),
             y_axis(scale, ticks, left, WIDTH - 20, metric.upper())]
    for i, (label, before, after) in enumerate(rows):
        x = left + i * slot + slot * 0.15
        width = slot * 0.34
        for j, (value, colour, when) in enumerate(((before, GREY, "before"), (after, BLUE, "after"))):
            if value is None:
                continue
            bx = x + j * width
            parts.append(rect(bx, scale(value), width - 2, bottom - scale(value), colour,
                              tip=f"{label} {when}: {fmt(value)}"))
            parts.append(text(bx + width / 2, scale(value) - 4, fmt(value), anchor="middle",
                              size=10, colour=MUTED))
        parts.append(text(x + width, bottom + 16, shorten(label, max(int(slot / 7), 6)),
                          anchor="middle", weight="bold" if i == 0 else "normal"))
    parts.append(legend(left, height - 12, [(GREY, "before"), (BLUE, "after")]))
    parts.append("</svg>")
    return "".join(parts)
