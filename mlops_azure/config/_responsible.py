"""``responsible:``: fairness per sensitive group, error cohorts, and the responsible-ML gate.

The section reads::

    responsible:
      sensitive: [gender, age_band]                # fairness is checked per group of each
      cohorts: [gender, age_band, region]          # error analysis: singles and pairs (default: sensitive)
      task: regression                             # default: model.task (classification: labels 0/1,
                                                   # 1 the favourable one)
      metric: mae                                  # regression: mae (default)|wape|rmse; classification:
                                                   # selection_rate (default)|tpr|fpr|accuracy
      min_group_size: 30                           # smaller groups are reported, their metric not trusted
      policy:
        max_disparity:                             # per sensitive feature, on `metric`, trusted groups only
          gender: {difference: 0.15, ratio: 2.0}   # either or both
        worst_cohort_metric: 0.6                   # no trusted cohort's metric worse than this
        on_registration: warn                      # warn | block (promotion always blocks)
      mitigation:
        reweight_by: gender                        # training weights rows inversely to group frequency

Column checks against ``data.schema`` live in ``ProjectConfig`` (this section does not see the schema).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from mlops_azure.config._base import _Strict
from mlops_azure.metrics import Task

#: The metrics each task reports per group, the primary one chosen by ``metric``.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("mae", "wape", "rmse"),
    "classification": ("selection_rate", "tpr", "fpr", "accuracy"),
}

# Which way each of these is better is in mlops_azure.metrics, the tool's one table of directions.
_DEFAULT_METRIC = {"regression": "mae", "classification": "selection_rate"}


class DisparityLimit(_Strict):
    """How far apart the trusted groups of one sensitive feature may be on the primary metric."""

    #: Largest minus smallest group value.
    difference: float | None = Field(None, ge=0)
    #: Largest over smallest group value (at least 1; a zero smallest value is an unbounded ratio).
    ratio: float | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_limit(self) -> DisparityLimit:
        if self.difference is None and self.ratio is None:
            raise ValueError("give difference, ratio or both")
        return self


class ResponsiblePolicy(_Strict):
    """The responsible-ML gate, checked at registration and at promotion to production."""

    #: Per sensitive feature: the limits on the spread of ``metric`` across its trusted groups.
    max_disparity: dict[str, DisparityLimit] = Field(default_factory=dict)
    #: The worst value of ``metric`` a trusted cohort may have: a maximum for mae, wape, rmse and
    #: fpr, a minimum for selection_rate, tpr and accuracy (see ``mlops_azure.metrics``).
    worst_cohort_metric: float | None = Field(None, ge=0)
    #: At registration a violation warns or blocks; at promotion it always blocks.
    on_registration: Literal["warn", "block"] = "warn"


class MitigationConfig(_Strict):
    """How training acts on a fairness finding."""

    #: Weight training rows inversely to the frequency of their group in this column.
    reweight_by: str | None = None


class ResponsibleConfig(_Strict):
    """Fairness, error cohorts and the responsible-ML gate (see the module docstring for the YAML)."""

    sensitive: list[str] = Field(min_length=1)
    #: Error analysis looks at every single value and every pair of values of these (None: sensitive).
    cohorts: list[str] | None = None
    #: In mlops.yaml the default is ``model.task`` (filled in by ``ProjectConfig``).
    task: Task = "regression"
    #: The primary per-group metric (default: mae for regression, selection_rate for classification).
    metric: str = ""
    min_group_size: int = Field(30, ge=1)
    policy: ResponsiblePolicy = ResponsiblePolicy()
    mitigation: MitigationConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_metric(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("metric") in (None, ""):
            task = data.get("task", "regression")
            return {**data, "metric": _DEFAULT_METRIC.get(task, "mae")}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ResponsibleConfig:
        known = TASK_METRICS[self.task]
        if self.metric not in known:
            raise ValueError(f"metric '{self.metric}' is not a {self.task} metric ({', '.join(known)})")
        for key, names in (("sensitive", self.sensitive), ("cohorts", self.cohorts or [])):
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValueError(f"{key} names '{repeated[0]}' more than once")
        for feature in self.policy.max_disparity:
            if feature not in self.sensitive:
                raise ValueError(f"policy.max_disparity names '{feature}', which is not one of sensitive")
        return self

    @property
    def cohort_features(self) -> list[str]:
        """The features error analysis combines: ``cohorts``, else ``sensitive``."""
        return list(self.sensitive if self.cohorts is None else self.cohorts)

    @property
    def features(self) -> list[str]:
        """Every column the section names, each once, in order of first mention."""
        named = [*self.sensitive, *self.cohort_features]
        if self.mitigation and self.mitigation.reweight_by:
            named.append(self.mitigation.reweight_by)
        return list(dict.fromkeys(named))
