"""Responsible ML, backend-neutral: fairness per sensitive group, group sizes, error cohorts, and
the responsible-ML gate, from a frame of holdout predictions.

``analyse(predictions, config.responsible, y_true=..., y_pred=...)`` gives a ``ResponsibleReport``;
``with_verdict(report, policy, at="registration" | "promotion")`` adds the gate's ``Verdict``.
``ResponsibleReport.to_dict()`` is the JSON the model card and the approval record read.
Importing this package is cheap: fairlearn (and scikit-learn) load on the first ``analyse``.
"""

from __future__ import annotations

from mlops_azure.responsible._analyse import allowed_values, analyse, with_verdict
from mlops_azure.responsible._card import Champion, GateResult, ModelCard, render_html, render_markdown
from mlops_azure.responsible._card import Lineage as CardLineage
from mlops_azure.responsible._policy import evaluate_policy
from mlops_azure.responsible._report import (
    Cohort,
    FeatureFairness,
    Finding,
    GroupQuality,
    GroupSizes,
    ResponsibleReport,
    Verdict,
)

__all__ = [
    "CardLineage",
    "Champion",
    "Cohort",
    "FeatureFairness",
    "Finding",
    "GateResult",
    "GroupQuality",
    "GroupSizes",
    "ModelCard",
    "ResponsibleReport",
    "Verdict",
    "allowed_values",
    "analyse",
    "evaluate_policy",
    "render_html",
    "render_markdown",
    "with_verdict",
]
