"""Holdout metrics by task. Their names are the ones mlops knows the direction of (auc, accuracy,
f1, precision, recall and r2 are better higher; rmse, mae, log_loss and brier lower)."""

from __future__ import annotations

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


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | int]:
    """RMSE, MAE and R² over ``rows`` rows."""
    actual, predicted = _checked(actual, predicted)
    error = actual - predicted
    spread = float(((actual - actual.mean()) ** 2).sum())
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.abs(error).mean()),
            "r2": float(1.0 - (error**2).sum() / spread) if spread > 0 else 0.0,
            "rows": int(actual.size)}


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
    clipped = np.clip(probability, 1e-15, 1 - 1e-15)
    return {
        "auc": auc(actual, probability),
        "accuracy": float((predicted == positive).mean()),
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "precision": precision,
        "recall": recall,
        "log_loss": float(-np.mean(actual * np.log(clipped) + (1 - actual) * np.log(1 - clipped))),
        "brier": float(np.mean((probability - actual) ** 2)),
        "rows": int(actual.size),
    }


def task_metrics(task: str, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | int]:
    """The task's metrics (see :data:`METRICS`)."""
    if task == "classification":
        return classification_metrics(actual, predicted)
    return regression_metrics(actual, predicted)
