"""Forecast accuracy metrics (the formulas are the template's, in ``tabular.metrics``)."""

from __future__ import annotations

import numpy as np
from tabular.metrics import mae, rmse, wape
from tabular.step import StepError


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | int]:
    """MAE, RMSE and WAPE (sum |y - ŷ| / sum |y|) over ``rows`` rows."""
    actual = np.asarray(actual, dtype="float64")
    predicted = np.asarray(predicted, dtype="float64")
    if actual.shape != predicted.shape or actual.size == 0:
        raise StepError("metrics need as many predictions as actual values, and at least one")
    if not np.abs(actual).sum():
        raise StepError("the holdout has no purchases at all, so WAPE is undefined")
    return {"mae": mae(actual, predicted), "rmse": rmse(actual, predicted),
            "wape": wape(actual, predicted), "rows": int(actual.size)}
