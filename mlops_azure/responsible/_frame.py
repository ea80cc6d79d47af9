"""Checking the holdout-predictions frame and putting it in the one form the analyses read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_azure.errors import UserInputError
from mlops_azure.responsible._metrics import Array

#: The group label of rows whose feature value is missing: reported as a group, never dropped.
MISSING = "(missing)"


@dataclass(frozen=True)
class Prepared:
    """Float targets and predictions, and each feature as categorical string labels."""

    y: Array
    p: Array
    #: One categorical column per feature; categories include declared values absent from the rows.
    groups: pd.DataFrame

    @property
    def rows(self) -> int:
        return len(self.y)


def _numbers(frame: pd.DataFrame, column: str, role: str, task: str) -> Array:
    series = frame[column]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise UserInputError(f"the predictions column '{column}' ({role}) is not numeric "
                             f"(dtype {series.dtype})")
    values = series.to_numpy(dtype=float, na_value=np.nan)
    missing = int(np.isnan(values).sum())
    if missing:
        raise UserInputError(f"the predictions column '{column}' ({role}) has {missing} missing value(s)")
    if not np.isfinite(values).all():
        raise UserInputError(f"the predictions column '{column}' ({role}) has infinite values")
    if task == "classification":
        odd = values[(values != 0) & (values != 1)]
        if odd.size:
            raise UserInputError(f"the predictions column '{column}' ({role}) holds {odd[0]:g}, but "
                                 "classification expects labels 0 and 1")
    return values


def _labels(series: pd.Series, declared: Sequence[str]) -> pd.Categorical:
    text = series.astype("string").fillna(MISSING).to_numpy(dtype=object)
    seen = sorted(set(text))
    # Declared values with no rows still become categories, so they are reported with size 0.
    categories = [*seen, *sorted(set(map(str, declared)) - set(seen))]
    return pd.Categorical(text, categories=categories)


def prepare(
    predictions: pd.DataFrame,
    features: Sequence[str],
    *,
    y_true: str,
    y_pred: str,
    task: str,
    allowed: Mapping[str, Sequence[str]] | None = None,
) -> Prepared:
    """Check ``predictions`` and return its targets, predictions and feature labels.

    Raises ``UserInputError`` naming the column when one is missing, not numeric or has gaps.
    """
    if not isinstance(predictions, pd.DataFrame):
        raise UserInputError(f"the predictions must be a pandas DataFrame, not {type(predictions).__name__}")
    needed = [(y_true, "y_true"), (y_pred, "y_pred")]
    needed += [(feature, "a responsible-ML feature") for feature in features]
    for column, role in needed:
        if column not in predictions.columns:
            raise UserInputError(f"the predictions frame has no column '{column}' ({role})")
    if predictions.empty:
        raise UserInputError("the predictions frame has no rows, so no group can be measured")
    declared = allowed or {}
    groups = pd.DataFrame({feature: _labels(predictions[feature], declared.get(feature, ()))
                           for feature in dict.fromkeys(features)}, index=pd.RangeIndex(len(predictions)))
    return Prepared(
        y=_numbers(predictions, y_true, "y_true", task),
        p=_numbers(predictions, y_pred, "y_pred", task),
        groups=groups,
    )
