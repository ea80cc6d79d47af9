"""Per-group metrics against hand-computed numbers, trusted groups, and group sizes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import false_positive_rate, selection_rate, true_positive_rate

from mlops_azure.config import ResponsibleConfig
from mlops_azure.errors import UserInputError
from mlops_azure.responsible import analyse


def tiny() -> pd.DataFrame:
    # a: errors 2, -2, 0 on y 10, 20, 30; b: errors 3, -5 on y 10, 10; c: error 10 on y 5.
    return pd.DataFrame({
        "segment": ["a", "a", "a", "b", "b", "c"],
        "y": [10.0, 20.0, 30.0, 10.0, 10.0, 5.0],
        "p": [12.0, 18.0, 30.0, 13.0, 5.0, 15.0],
    })


def config(**extra: object) -> ResponsibleConfig:
    return ResponsibleConfig.model_validate({"sensitive": ["segment"], "min_group_size": 2, **extra})


def test_regression_metrics_per_group_match_hand_computed_numbers() -> None:
    report = analyse(tiny(), config(), y_true="y", y_pred="p", allowed={"segment": ["a", "b", "c", "d"]})
    rows = {row.group: row for row in report.groups["segment"].by_group}
    # a: |e| = 2 + 2 + 0 = 4 over 3 rows and sum|y| = 60; e^2 = 4 + 4 + 0 = 8.
    assert rows["a"].metrics == pytest.approx({"mae": 4 / 3, "wape": 4 / 60, "rmse": math.sqrt(8 / 3)})
    # b: |e| = 3 + 5 = 8 over 2 rows and sum|y| = 20; e^2 = 9 + 25 = 34.
    assert rows["b"].metrics == pytest.approx({"mae": 4.0, "wape": 0.4, "rmse": math.sqrt(17)})
    # c: one row, |e| = 10 on y = 5.
    assert rows["c"].metrics == pytest.approx({"mae": 10.0, "wape": 2.0, "rmse": 10.0})
    # overall: |e| = 22 over 6 rows, sum|y| = 85, e^2 = 8 + 34 + 100 = 142.
    assert report.rows == 6
    assert report.overall == pytest.approx({"mae": 22 / 6, "wape": 22 / 85, "rmse": math.sqrt(142 / 6)})
    assert [(r.group, r.rows, r.trusted) for r in report.groups["segment"].by_group] == [
        ("a", 3, True), ("b", 2, True), ("c", 1, False), ("d", 0, False)]
    assert rows["a"].share == pytest.approx(0.5)
    assert rows["d"].metrics == {"mae": None, "wape": None, "rmse": None}


def test_disparity_counts_trusted_groups_only() -> None:
    fair = analyse(tiny(), config(), y_true="y", y_pred="p").groups["segment"]
    # Trusted: a (wape 1/15) and b (0.4); c's wape 2.0 on one row would otherwise dominate.
    assert fair.trusted_groups == 2
    assert fair.worst_group == "b"
    assert fair.difference["wape"] == pytest.approx(0.4 - 1 / 15)
    assert fair.ratio["wape"] == pytest.approx(6.0)
    assert fair.difference["mae"] == pytest.approx(4 - 4 / 3)
    assert fair.ratio["mae"] == pytest.approx(3.0)


def test_fewer_than_two_trusted_groups_means_no_disparity() -> None:
    fair = analyse(tiny(), config(min_group_size=3), y_true="y", y_pred="p").groups["segment"]
    assert fair.trusted_groups == 1
    assert fair.difference == {"mae": None, "wape": None, "rmse": None}
    assert fair.worst_group is None


def test_exploration_flags_small_and_empty_declared_groups() -> None:
    report = analyse(tiny(), config(), y_true="y", y_pred="p", allowed={"segment": ["a", "b", "c", "d"]})
    sizes = report.exploration["segment"]
    assert dict(sizes.sizes) == {"a": 3, "b": 2, "c": 1, "d": 0}
    assert sizes.small_groups == ("c", "d")
    assert sizes.imbalance_ratio is None  # a declared group with 0 rows: unbounded
    without_d = analyse(tiny(), config(), y_true="y", y_pred="p").exploration["segment"]
    assert without_d.imbalance_ratio == pytest.approx(3.0)
    assert without_d.shares["b"] == pytest.approx(2 / 6)


def test_missing_feature_values_form_their_own_group() -> None:
    frame = tiny()
    frame.loc[2, "segment"] = np.nan
    sizes = analyse(frame, config(), y_true="y", y_pred="p").exploration["segment"].sizes
    assert sizes["(missing)"] == 1 and sizes["a"] == 2


def test_classification_metrics_per_group_match_hand_computed_and_fairlearn() -> None:
    frame = pd.DataFrame({
        "g": ["x"] * 4 + ["y"] * 4 + ["z"] * 2,
        "t": [1, 1, 0, 0, 1, 1, 1, 0, 0, 0],
        "p": [1, 0, 1, 0, 1, 1, 1, 1, 0, 0],
    })
    section = ResponsibleConfig.model_validate(
        {"sensitive": ["g"], "task": "classification", "metric": "tpr", "min_group_size": 1})
    report = analyse(frame, section, y_true="t", y_pred="p")
    rows = {row.group: dict(row.metrics) for row in report.groups["g"].by_group}
    # x: selects 2 of 4; 1 of 2 positives caught; 1 of 2 negatives selected; 2 of 4 right.
    assert rows["x"] == pytest.approx({"selection_rate": 0.5, "tpr": 0.5, "fpr": 0.5, "accuracy": 0.5})
    # y: selects all 4; 3 of 3 positives; 1 of 1 negative selected; 3 of 4 right.
    assert rows["y"] == pytest.approx({"selection_rate": 1.0, "tpr": 1.0, "fpr": 1.0, "accuracy": 0.75})
    # z: no positives, so TPR is undefined (null, not a perfect 0 or 1).
    assert rows["z"] == {"selection_rate": 0.0, "tpr": None, "fpr": 0.0, "accuracy": 1.0}
    for group in ("x", "y"):
        part = frame[frame["g"] == group]
        assert rows[group]["selection_rate"] == pytest.approx(selection_rate(part["t"], part["p"]))
        assert rows[group]["tpr"] == pytest.approx(true_positive_rate(part["t"], part["p"]))
        assert rows[group]["fpr"] == pytest.approx(false_positive_rate(part["t"], part["p"]))
    fair = report.groups["g"]
    assert fair.difference["tpr"] == pytest.approx(0.5)  # z has no TPR: only x and y count
    assert fair.worst_group == "x"  # TPR: lower is worse


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (tiny().drop(columns="segment"), "no column 'segment'"),
        (tiny().drop(columns="p"), "no column 'p' (y_pred)"),
        (tiny().iloc[:0], "has no rows"),
        (tiny().assign(y=["x"] * 6), "column 'y' (y_true) is not numeric"),
        (tiny().assign(p=[1.0, np.nan, 2, 3, 4, 5]), "column 'p' (y_pred) has 1 missing value"),
    ],
)
def test_bad_input_is_one_sentence_naming_the_column(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(UserInputError) as caught:
        analyse(frame, config(), y_true="y", y_pred="p")
    assert message in caught.value.message and "\n" not in caught.value.message


def test_classification_needs_zero_one_labels() -> None:
    section = ResponsibleConfig.model_validate({"sensitive": ["segment"], "task": "classification"})
    with pytest.raises(UserInputError, match="holds 10, but classification expects labels 0 and 1"):
        analyse(tiny(), section, y_true="y", y_pred="p")
