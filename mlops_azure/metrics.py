"""Which way is better, for the metrics the tool knows: the one table of metric directions.

The champion gate (``champion.direction``) and the responsible-ML checks (a group's or a cohort's
metric against a limit) both read it, so a metric is never maximised in one place and minimised in
another. A metric not listed here has no known direction: the user states it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

Direction = Literal["minimize", "maximize"]
Task = Literal["regression", "classification"]

#: Larger is better. ``selection_rate`` and ``tpr`` are the responsible-ML group metrics, where
#: label 1 is the favourable outcome.
MAXIMIZE: frozenset[str] = frozenset({
    "auc", "roc_auc", "average_precision", "accuracy", "balanced_accuracy", "f1", "precision",
    "recall", "r2", "selection_rate", "tpr",
})
#: Smaller is better: errors, losses and false positives.
MINIMIZE: frozenset[str] = frozenset({
    "rmse", "mse", "mae", "mape", "wape", "log_loss", "brier", "fpr",
})

#: Every known metric and its direction.
DIRECTIONS: Mapping[str, Direction] = MappingProxyType({
    **dict.fromkeys(sorted(MAXIMIZE), "maximize"), **dict.fromkeys(sorted(MINIMIZE), "minimize"),
})

#: The champion metric when ``champion.metric`` is not given, by ``model.task``.
DEFAULT_CHAMPION_METRIC: Mapping[str, str] = MappingProxyType({
    "regression": "rmse", "classification": "auc",
})


def known_direction(metric: str) -> Direction | None:
    """The direction of ``metric`` if the tool knows it (case-insensitive), else None."""
    return DIRECTIONS.get(metric.lower())


def higher_is_better(metric: str) -> bool:
    """True for a metric known to be better when larger; False for any other."""
    return known_direction(metric) == "maximize"
