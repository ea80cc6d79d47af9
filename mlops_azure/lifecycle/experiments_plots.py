"""The three plots of a study as inline SVG: the optimisation history, parallel coordinates and
parameter importances. Each returns one ``<svg data-plot="...">`` (data elements carry
``class="mark"``, which the browser test counts), or None when the study has nothing to draw."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from mlops_azure.lifecycle.experiments_importance import completed, is_log
from mlops_azure.records_tuning import ParamValue, Study, Trial, TrialState
from mlops_azure.responsible._plots_svg import (
    BLUE,
    MUTED,
    ORANGE,
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
    value_colour,
    x_axis,
    y_axis,
)

WIDTH = 760
LEFT, RIGHT, TOP = 72, 24, 44


def history(study: Study, ident: str) -> str | None:
    """Each trial's value by trial number (pruned trials hollow), and the best value so far."""
    shown = sorted((t for t in study.trials if t.value is not None and math.isfinite(t.value)
                    and t.state in (TrialState.COMPLETE, TrialState.PRUNED)),
                   key=lambda t: t.number)
    if not shown:
        return None
    height = 340
    bottom = height - 56
    numbers = [t.number for t in shown]
    values = [float(t.value) for t in shown if t.value is not None]
    x_ticks = nice_ticks(min(numbers), max(max(numbers), min(numbers) + 1), 8)
    y_ticks = nice_ticks(min(values), max(max(values), min(values) + 1e-9), 5)
    xs = Scale(x_ticks[0], x_ticks[-1], LEFT, WIDTH - RIGHT)
    ys = Scale(y_ticks[0], y_ticks[-1], bottom, TOP)
    pruned = sum(1 for t in shown if t.state is TrialState.PRUNED)
    parts = [svg_open("history", ident, WIDTH, height,
                      f"Optimisation history of {study.name}",
                      f"{study.metric} of {len(shown)} trials by trial number ({pruned} pruned), "
                      f"and the best value so far ({study.goal})."),
             x_axis(xs, [t for t in x_ticks if float(t).is_integer()], TOP, bottom,
                    "trial number"),
             y_axis(ys, y_ticks, LEFT, WIDTH - RIGHT, study.metric)]
    steps = _best_so_far(study)
    if steps:
        path = f"M{num(xs(steps[0][0]))} {num(ys(steps[0][1]))}"
        for (number, best), (_, before) in zip(steps[1:], steps, strict=False):
            path += f" H{num(xs(number))}"
            if best != before:
                path += f" V{num(ys(best))}"
        path += f" H{num(xs(x_ticks[-1]))}"
        parts.append(f'<path class="mark" d="{path}" fill="none" stroke="{ORANGE}" '
                     f'stroke-width="2"><title>best {esc(study.metric)} so far: '
                     f'{esc(fmt(steps[-1][1], 4))}</title></path>')
    for trial in shown:
        assert trial.value is not None
        kept = trial.state is TrialState.COMPLETE
        parts.append(_dot(xs(trial.number), ys(trial.value), BLUE if kept else "#fff",
                          BLUE if kept else MUTED,
                          f"trial {trial.number} ({trial.state.value.lower()}): "
                          f"{study.metric}={fmt(trial.value, 4)}"))
    parts.append(_legend_dots(LEFT, height - 12))
    parts.append("</svg>")
    return "".join(parts)


def parallel(study: Study, ident: str) -> str | None:
    """One polyline per completed trial across its parameters and its value, coloured from
    better (blue) to worse (red); the best trial in orange."""
    trials = completed(study)
    names = _param_names(study, trials)
    trials = [t for t in trials if all(n in t.params for n in names)]
    if not trials or not names:
        return None
    height = 380
    bottom = height - 40
    axes = [_Axis.of(n, study.search_space.get(n), [t.params[n] for t in trials], TOP + 22, bottom)
            for n in names]
    values: list[ParamValue] = [float(t.value) for t in trials if t.value is not None]
    axes.append(_Axis.of(study.metric, None, values, TOP + 22, bottom))
    step = (WIDTH - 2 * LEFT) / max(len(axes) - 1, 1)
    xs = [LEFT + i * step for i in range(len(axes))]
    low, high = min(float(v) for v in values), max(float(v) for v in values)
    parts = [svg_open("parallel", ident, WIDTH, height,
                      f"Parallel coordinates of {study.name}",
                      f"{len(trials)} completed trials across {', '.join(names)} and "
                      f"{study.metric}; blue is better, red worse, the best trial orange.")]
    for axis, x in zip(axes, xs, strict=True):
        parts.append(axis.draw(x))
    best = study.best_trial
    for trial in sorted(trials, key=lambda t: t.number == best):  # the best one drawn on top
        assert trial.value is not None
        points = [*(a.y(trial.params[a.name]) for a in axes[:-1]), axes[-1].y(trial.value)]
        d = "M" + " L".join(f"{num(x)} {num(y)}" for x, y in zip(xs, points, strict=True))
        share = (trial.value - low) / (high - low) if high > low else 0.0
        colour = value_colour(share if study.goal == "minimize" else 1 - share)
        is_best = trial.number == best
        parts.append(f'<path class="mark" d="{d}" fill="none" '
                     f'stroke="{ORANGE if is_best else colour}" '
                     f'stroke-width="{3 if is_best else 1.5}" stroke-opacity="{1 if is_best else 0.75}">'
                     f'<title>trial {trial.number}: {esc(_params_text(trial))}, '
                     f'{esc(study.metric)}={esc(fmt(trial.value, 4))}</title></path>')
    parts.append("</svg>")
    return "".join(parts)


def importance(study: Study, ident: str, importances: Mapping[str, float]) -> str | None:
    """A bar per parameter: its share of the value's variance (fANOVA)."""
    if not importances:
        return None
    ordered = sorted(importances.items(), key=lambda kv: -kv[1])
    row = 28
    height = TOP + row * len(ordered) + 50
    left = 180
    xs = Scale(0.0, 1.0, left, WIDTH - RIGHT - 50)
    bottom = TOP + row * len(ordered)
    parts = [svg_open("importance", ident, WIDTH, height,
                      f"Parameter importances of {study.name}",
                      f"Each parameter's share of the variance of {study.metric} over the "
                      f"completed trials (fANOVA): " +
                      ", ".join(f"{k} {v:.0%}" for k, v in ordered) + "."),
             x_axis(xs, [0, 0.25, 0.5, 0.75, 1.0], TOP - 6, bottom, "share of variance")]
    for index, (name, share) in enumerate(ordered):
        y = TOP + index * row
        parts.append(text(left - 8, y + row / 2 + 4, shorten(name, 24), anchor="end"))
        parts.append(rect(left, y + 5, max(xs(share) - left, 1.0), row - 10, BLUE,
                          tip=f"{name}: {share:.1%}"))
        parts.append(text(max(xs(share), left + 1) + 6, y + row / 2 + 4, f"{share:.0%}",
                          size=11, colour=MUTED))
    parts.append("</svg>")
    return "".join(parts)


class _Axis:
    """A vertical axis of the parallel-coordinates plot: numbers (linear or log) or categories."""

    def __init__(self, name: str, log: bool, lo: float, hi: float,
                 categories: Sequence[ParamValue], top: float, bottom: float) -> None:
        self.name, self.log, self.categories = name, log, list(categories)
        self.scale = Scale(lo, hi, bottom, top)

    @classmethod
    def of(cls, name: str, spec: object, values: Sequence[ParamValue], top: float,
           bottom: float) -> _Axis:
        if any(isinstance(v, str | bool) for v in values) or (
                isinstance(spec, Mapping) and spec.get("type") == "choice"):
            declared = spec.get("values") if isinstance(spec, Mapping) else None
            options = [v for v in declared or () if isinstance(v, str | int | float | bool)]
            categories = list(dict.fromkeys([*options, *values]))
            return cls(name, False, -0.5, len(categories) - 0.5, categories, top, bottom)
        numbers = [float(v) for v in values]
        log = is_log(spec) and min(numbers) > 0
        points = [math.log10(n) for n in numbers] if log else numbers
        lo, hi = min(points), max(points)
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        return cls(name, log, lo, hi, [], top, bottom)

    def y(self, value: ParamValue) -> float:
        if self.categories:
            return self.scale(self.categories.index(value) if value in self.categories else 0)
        number = float(value)
        return self.scale(math.log10(number) if self.log else number)

    def draw(self, x: float) -> str:
        title = self.name + (" (log)" if self.log else "")
        parts = [line(x, self.scale.end, x, self.scale.start, MUTED),
                 text(x, TOP + 6, shorten(title, 22), anchor="middle", weight="bold")]
        if self.categories:
            ticks = [(self.scale(i), str(c)) for i, c in enumerate(self.categories)]
        elif self.log:
            ticks = [(self.scale(t), fmt(10 ** t)) for t in _log_ticks(self.scale)]
        else:
            ticks = [(self.scale(t), fmt(t))
                     for t in _inside(nice_ticks(self.scale.lo, self.scale.hi, 4), self.scale)]
        for y, label in ticks:
            parts.append(line(x - 4, y, x + 4, y, MUTED))
            parts.append(text(x + 7, y + 4, shorten(label, 12), size=10, colour=MUTED))
        return "".join(parts)


def _inside(ticks: Sequence[float], scale: Scale) -> list[float]:
    span = scale.hi - scale.lo
    return [t for t in ticks if scale.lo - span * 1e-9 <= t <= scale.hi + span * 1e-9]


def _log_ticks(scale: Scale) -> list[float]:
    """log10 of the 1-2-5 values inside a log axis (just the powers of ten when many fit)."""
    first, last = math.floor(scale.lo), math.ceil(scale.hi)
    factors = (1,) if last - first > 3 else (1, 2, 5)
    found = [math.log10(f) + p for p in range(first, last + 1) for f in factors]
    return _inside(found, scale)


def _best_so_far(study: Study) -> list[tuple[int, float]]:
    """(trial number, best value up to it) over the completed trials."""
    steps: list[tuple[int, float]] = []
    for trial in completed(study):
        assert trial.value is not None
        if not steps:
            steps.append((trial.number, trial.value))
            continue
        before = steps[-1][1]
        better = trial.value < before if study.goal == "minimize" else trial.value > before
        steps.append((trial.number, trial.value if better else before))
    return steps


def _param_names(study: Study, trials: Sequence[Trial]) -> list[str]:
    seen = [n for n in study.search_space if any(n in t.params for t in trials)]
    for trial in trials:
        seen.extend(n for n in trial.params if n not in seen)
    return seen


def _params_text(trial: Trial) -> str:
    return ", ".join(f"{k}={fmt(v, 4) if isinstance(v, float) else v}"
                     for k, v in trial.params.items())


def _dot(x: float, y: float, fill: str, stroke: str, tip: str) -> str:
    return (f'<circle class="mark" cx="{num(x)}" cy="{num(y)}" r="4" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.5"><title>{esc(tip)}</title></circle>')


def _legend_dots(x: float, y: float) -> str:
    return (f'<circle cx="{num(x + 6)}" cy="{num(y - 3)}" r="4" fill="{BLUE}"/>'
            + text(x + 15, y + 1, "complete", size=11, colour=MUTED)
            + f'<circle cx="{num(x + 96)}" cy="{num(y - 3)}" r="4" fill="#fff" stroke="{MUTED}" '
            f'stroke-width="1.5"/>' + text(x + 105, y + 1, "pruned", size=11, colour=MUTED)
            + line(x + 170, y - 3, x + 190, y - 3, ORANGE, width=2)
            + text(x + 196, y + 1, "best so far", size=11, colour=MUTED))


__all__ = ["history", "importance", "parallel"]
