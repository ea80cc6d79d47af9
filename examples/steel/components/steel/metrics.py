"""Forecast accuracy metrics."""

from __future__ import annotations

import numpy as np
from tabular.step import StepError


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | int]:
    """MAE, RMSE and WAPE (sum |y - ŷ| / sum |y|) over ``rows`` rows."""
    actual = np.asarray(actual, dtype="float64")
    predicted = np.asarray(predicted, dtype="float64")
    if actual.shape != predicted.shape or actual.size == 0:
        raise StepError("metrics need as many predictions as actual values, and at least one")
    error = np.abs(actual - predicted)
    volume = float(np.abs(actual).sum())
    if volume == 0.0:
        raise StepError("the holdout has no purchases at all, so WAPE is undefined")
    return {
        "mae": float(error.mean()),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "wape": float(error.sum() / volume),
        "rows": int(actual.size),
    }
