"""``analyse``: holdout predictions in, ``ResponsibleReport`` out; ``with_verdict`` adds the gate."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from mlops_azure.config._data import DataSchema
from mlops_azure.config._responsible import TASK_METRICS, ResponsibleConfig, ResponsiblePolicy
from mlops_azure.responsible._cohorts import worst_cohorts
from mlops_azure.responsible._frame import prepare
from mlops_azure.responsible._groups import explore, fairness
from mlops_azure.responsible._metrics import ARRAY_METRICS, finite
from mlops_azure.responsible._policy import evaluate_policy
from mlops_azure.responsible._report import ResponsibleReport, Stage


def allowed_values(schema: DataSchema) -> dict[str, list[str]]:
    """The ``allowed`` list of each schema column that has one: ``analyse``'s declared groups."""
    return {name: list(spec.allowed) for name, spec in schema.columns.items() if spec.allowed}


def analyse(
    predictions: pd.DataFrame,
    config: ResponsibleConfig,
    *,
    y_true: str,
    y_pred: str,
    allowed: Mapping[str, Sequence[str]] | None = None,
    explanations: Mapping[str, Any] | None = None,
    mitigation: Mapping[str, Any] | None = None,
    top_cohorts: int = 10,
) -> ResponsibleReport:
    """Per-group quality and disparity of each sensitive feature, group sizes of every feature,
    and the ``top_cohorts`` worst cohorts, from holdout ``predictions``. The verdict is None.

    ``allowed`` maps a feature to its declared values (``allowed_values(schema)``): those absent
    from the rows are reported as groups of 0 rows. ``explanations`` and ``mitigation`` are passed
    through to the report unchanged. Raises ``UserInputError`` on a missing column, an empty frame
    or non-numeric targets.
    """
    features = list(dict.fromkeys([*config.sensitive, *config.cohort_features]))
    prepared = prepare(predictions, features, y_true=y_true, y_pred=y_pred, task=config.task,
                       allowed=allowed)
    names = TASK_METRICS[config.task]
    overall = {name: finite(ARRAY_METRICS[name](prepared.y, prepared.p)) for name in names}
    return ResponsibleReport(
        task=config.task,
        metric=config.metric,
        min_group_size=config.min_group_size,
        rows=prepared.rows,
        overall=overall,
        groups={feature: fairness(prepared, feature, task=config.task, metric=config.metric,
                                  min_group_size=config.min_group_size)
                for feature in config.sensitive},
        exploration={feature: explore(prepared, feature, config.min_group_size) for feature in features},
        cohorts=worst_cohorts(prepared, config.cohort_features, task=config.task, metric=config.metric,
                              overall=overall, min_group_size=config.min_group_size, top=top_cohorts),
        explanations=None if explanations is None else dict(explanations),
        mitigation=None if mitigation is None else dict(mitigation),
    )


def with_verdict(report: ResponsibleReport, policy: ResponsiblePolicy, *, at: Stage) -> ResponsibleReport:
    """``report`` with its verdict at ``at`` (registration or promotion) under ``policy``."""
    return dataclasses.replace(report, verdict=evaluate_policy(report, policy, at=at))
