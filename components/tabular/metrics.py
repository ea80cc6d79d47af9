"""Holdout metrics by task. Their names are the ones mlops knows the direction of (auc, accuracy,
f1, precision, recall and r2 are better higher; rmse, mae, wape, log_loss and brier lower).

Each formula is written once here: evaluate's holdout metrics, train's per-round validation
metric and the steel example's metrics all call these functions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tabular.step import StepError

#: What evaluate.py writes for each task; evaluate.yml declares the same list for mlops.
METRICS = {"regression": ("rmse", "mae", "r2"),
           "classification": ("auc", "accuracy", "f1", "precision", "recall", "log_loss", "brier")}


def _checked(actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    actual = np.asarray(actual, dtype="float64")
    predicted = np.asarray(predicted, dtype="float64")
    if actual.shape != predicted.shape or actual.size == 0:
        raise StepError("metrics need as many predictions as actual values, and at least one")
    return actual, predicted


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.abs(actual - predicted).mean())


def r2(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination (0 when the actual values do not vary)."""
    spread = float(((actual - actual.mean()) ** 2).sum())
    return float(1.0 - ((actual - predicted) ** 2).sum() / spread) if spread > 0 else 0.0


def wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Weighted absolute percentage error: sum |y - ŷ| / sum |y|."""
    volume = float(np.abs(actual).sum())
    if volume == 0.0:
        raise StepError("the actual values are all 0, so WAPE is undefined")
    return float(np.abs(actual - predicted).sum() / volume)


def accuracy(actual: np.ndarray, probability: np.ndarray) -> float:
    """Share of rows whose class (positive at probability 0.5 or more) is right."""
    return float(((probability >= 0.5) == (actual == 1)).mean())


def log_loss(actual: np.ndarray, probability: np.ndarray) -> float:
    """Mean negative log-likelihood of the actual classes (probabilities clipped off 0 and 1)."""
    clipped = np.clip(probability, 1e-15, 1 - 1e-15)
    return float(-np.mean(actual * np.log(clipped) + (1 - actual) * np.log(1 - clipped)))


def brier(actual: np.ndarray, probability: np.ndarray) -> float:
    """Mean squared difference between the probability and the actual class (1 or 0)."""
    return float(np.mean((probability - actual) ** 2))


def auc(actual: np.ndarray, probability: np.ndarray) -> float:
    """Area under the ROC curve: the chance a random positive scores above a random negative
    (ties count half), from the ranks of the scores."""
    positives = actual == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        raise StepError("the holdout holds only one class, so AUC is undefined: use more data or "
                        "a stratified split")
    order = np.argsort(probability, kind="mergesort")
    ranks = np.empty(len(probability), dtype="float64")
    sorted_scores = probability[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


Metric = Callable[[np.ndarray, np.ndarray], float]

#: The metrics train can report per boosting round: name -> (task, formula, higher is better).
VALIDATION_METRICS: dict[str, tuple[str, Metric, bool]] = {
    "rmse": ("regression", rmse, False), "mae": ("regression", mae, False),
    "r2": ("regression", r2, True), "wape": ("regression", wape, False),
    "auc": ("classification", auc, True), "log_loss": ("classification", log_loss, False),
    "brier": ("classification", brier, False), "accuracy": ("classification", accuracy, True),
}


def validation_metric(name: str, task: str) -> tuple[Metric, bool]:
    """The formula of metric ``name`` and whether higher is better; ``StepError`` naming the
    known metrics when ``name`` is unknown or measures the other task."""
    known = VALIDATION_METRICS.get(name)
    if known is None:
        raise StepError(f"validation_metric '{name}' is unknown; known metrics are "
                        f"{', '.join(VALIDATION_METRICS)} (or none)")
    if known[0] != task:
        fitting = [n for n, (t, _, _) in VALIDATION_METRICS.items() if t == task]
        raise StepError(f"validation_metric '{name}' measures a {known[0]}, not a {task}; "
                        f"use one of {', '.join(fitting)}")
    return known[1], known[2]


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | int]:
    """RMSE, MAE and R² over ``rows`` rows."""
    actual, predicted = _checked(actual, predicted)
    return {"rmse": rmse(actual, predicted), "mae": mae(actual, predicted),
            "r2": r2(actual, predicted), "rows": int(actual.size)}


def classification_metrics(actual: np.ndarray, probability: np.ndarray) -> dict[str, float | int]:
    """AUC, accuracy, F1, precision, recall (positive class, threshold 0.5), log loss and Brier
    score over ``rows`` rows; ``actual`` is 1 for the positive class, else 0."""
    actual, probability = _checked(actual, probability)
    predicted = probability >= 0.5
    positive = actual == 1
    tp = int((predicted & positive).sum())
    fp = int((predicted & ~positive).sum())
    fn = int((~predicted & positive).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "auc": auc(actual, probability),
        "accuracy": accuracy(actual, probability),
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "precision": precision,
        "recall": recall,
        "log_loss": log_loss(actual, probability),
        "brier": brier(actual, probability),
        "rows": int(actual.size),
    }


def task_metrics(task: str, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | int]:
    """The task's metrics (see :data:`METRICS`)."""
    if task == "classification":
        return classification_metrics(actual, predicted)
    return regression_metrics(actual, predicted)
