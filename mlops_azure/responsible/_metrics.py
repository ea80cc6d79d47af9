"""The per-group metrics, computed two ways that agree: from arrays (for fairlearn's ``MetricFrame``)
and from per-group sums (for the vectorised cohort search over many groups at once).

An undefined metric (WAPE with no volume, TPR without positives) is NaN here and null in reports,
never 0: a 0 would look like a perfect group.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlops_azure.config._responsible import TASK_METRICS
from mlops_azure.metrics import higher_is_better

Array = npt.NDArray[np.float64]
ArrayMetric = Callable[[Array, Array], float]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _mae(y: Array, p: Array) -> float:
    return float(np.abs(y - p).mean())


def _wape(y: Array, p: Array) -> float:
    return _ratio(float(np.abs(y - p).sum()), float(np.abs(y).sum()))


def _rmse(y: Array, p: Array) -> float:
    return math.sqrt(float(np.square(y - p).mean()))


def _selection_rate(y: Array, p: Array) -> float:
    return float((p == 1).mean())


def _tpr(y: Array, p: Array) -> float:
    positive = y == 1
    return _ratio(float((p[positive] == 1).sum()), float(positive.sum()))


def _fpr(y: Array, p: Array) -> float:
    negative = y == 0
    return _ratio(float((p[negative] == 1).sum()), float(negative.sum()))


def _accuracy(y: Array, p: Array) -> float:
    return float((y == p).mean())


ARRAY_METRICS: dict[str, ArrayMetric] = {
    "mae": _mae, "wape": _wape, "rmse": _rmse,
    "selection_rate": _selection_rate, "tpr": _tpr, "fpr": _fpr, "accuracy": _accuracy,
}


def row_terms(y: Array, p: Array, task: str) -> pd.DataFrame:
    """Per-row terms whose per-group sums give every metric of ``task`` (see ``from_sums``)."""
    if task == "regression":
        error = y - p
        return pd.DataFrame({"n": 1.0, "abs_err": np.abs(error), "sq_err": np.square(error),
                             "abs_y": np.abs(y)})
    return pd.DataFrame({"n": 1.0, "selected": p == 1, "pos": y == 1, "tp": (y == 1) & (p == 1),
                         "neg": y == 0, "fp": (y == 0) & (p == 1), "correct": y == p}).astype(float)


def from_sums(sums: pd.DataFrame, task: str) -> pd.DataFrame:
    """The metrics of ``task`` from the summed ``row_terms`` (one row per group, NaN if undefined)."""

    def div(num: str, den: str) -> pd.Series[float]:
        return sums[num] / sums[den].where(sums[den] != 0)

    if task == "regression":
        out = {"mae": div("abs_err", "n"), "wape": div("abs_err", "abs_y"),
               "rmse": np.sqrt(div("sq_err", "n"))}
    else:
        out = {"selection_rate": div("selected", "n"), "tpr": div("tp", "pos"),
               "fpr": div("fp", "neg"), "accuracy": div("correct", "n")}
    return pd.DataFrame(out, index=sums.index)[list(TASK_METRICS[task])]


def finite(value: object) -> float | None:
    """A JSON-safe number: NaN, infinities and missing values become None."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Spread:
    """How far apart groups are on one metric: ``high``/``low`` name the groups at either end."""

    difference: float
    #: high / low; ``math.inf`` when low is 0 and high is not (1.0 when both are 0).
    ratio: float
    high: str
    low: str
    worst: str
    best: str


def spread(values: Mapping[str, float], metric: str) -> Spread | None:
    """The spread of per-group ``values`` (NaN ignored); None with fewer than 2 groups."""
    known = {group: value for group, value in values.items() if not math.isnan(value)}
    if len(known) < 2:
        return None
    # Ties go to the first group by name, so reports do not depend on row order.
    low = min(known, key=lambda group: (known[group], group))
    high = min(known, key=lambda group: (-known[group], group))
    lo, hi = known[low], known[high]
    if lo > 0:
        ratio = hi / lo
    elif lo == 0:
        ratio = 1.0 if hi == 0 else math.inf
    else:
        ratio = math.nan  # negative values have no meaningful ratio
    worst, best = (low, high) if higher_is_better(metric) else (high, low)
    return Spread(difference=hi - lo, ratio=ratio, high=high, low=low, worst=worst, best=best)
