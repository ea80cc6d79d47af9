"""components/tabular/metrics.py: each validation metric against scikit-learn's, and the one
sentence that names an unknown metric or one of the other task."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "components"))

from tabular.metrics import VALIDATION_METRICS, task_metrics, validation_metric
from tabular.step import StepError

RNG = np.random.default_rng(7)
ACTUAL = RNG.gamma(2.0, 10.0, 200)
PREDICTED = ACTUAL + RNG.normal(0.0, 5.0, 200)
CLASSES = (RNG.random(200) < 0.4).astype("float64")
PROBABILITY = np.clip(0.3 * CLASSES + RNG.random(200) * 0.7, 0.0, 1.0)


@pytest.mark.parametrize(("name", "expected"), [
    ("rmse", np.sqrt(sk.mean_squared_error(ACTUAL, PREDICTED))),
    ("mae", sk.mean_absolute_error(ACTUAL, PREDICTED)),
    ("r2", sk.r2_score(ACTUAL, PREDICTED)),
    ("wape", np.abs(ACTUAL - PREDICTED).sum() / np.abs(ACTUAL).sum()),
])
def test_regression_metrics_equal_scikit_learns(name: str, expected: float) -> None:
    formula, _ = validation_metric(name, "regression")
    assert formula(ACTUAL, PREDICTED) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("name", "expected"), [
    ("auc", sk.roc_auc_score(CLASSES, PROBABILITY)),
    ("log_loss", sk.log_loss(CLASSES, PROBABILITY)),
    ("brier", sk.brier_score_loss(CLASSES, PROBABILITY)),
    ("accuracy", sk.accuracy_score(CLASSES, PROBABILITY >= 0.5)),
])
def test_classification_metrics_equal_scikit_learns(name: str, expected: float) -> None:
    formula, _ = validation_metric(name, "classification")
    assert formula(CLASSES, PROBABILITY) == pytest.approx(expected, rel=1e-12)


def test_the_holdout_metrics_are_the_same_formulas() -> None:
    regression = task_metrics("regression", ACTUAL, PREDICTED)
    classification = task_metrics("classification", CLASSES, PROBABILITY)
    for name, (task, formula, _) in VALIDATION_METRICS.items():
        shown = regression if task == "regression" else classification
        if name in shown:
            args = (ACTUAL, PREDICTED) if task == "regression" else (CLASSES, PROBABILITY)
            assert shown[name] == formula(*args)


def test_direction_of_each_metric() -> None:
    higher = {n for n, (_, _, up) in VALIDATION_METRICS.items() if up}
    assert higher == {"r2", "auc", "accuracy"}


@pytest.mark.parametrize(("name", "task", "message"), [
    ("mape", "regression", "validation_metric 'mape' is unknown; known metrics are rmse, mae, r2, wape, "
                           "auc, log_loss, brier, accuracy (or none)"),
    ("auc", "regression", "validation_metric 'auc' measures a classification, not a regression; "
                          "use one of rmse, mae, r2, wape"),
    ("wape", "classification", "use one of auc, log_loss, brier, accuracy"),
])
def test_a_metric_that_does_not_fit_is_one_sentence(name: str, task: str, message: str) -> None:
    with pytest.raises(StepError) as refused:
        validation_metric(name, task)
    assert message in refused.value.message and refused.value.exit_code == 2


def test_wape_of_all_zero_actuals_is_refused() -> None:
    with pytest.raises(StepError, match="WAPE is undefined"):
        validation_metric("wape", "regression")[0](np.zeros(3), np.ones(3))
