"""``tuning:``: sweep one training step's hyper-parameters, declared in ``mlops.yaml``.

The section is Azure ML's sweep in Azure's own words (``search_space``, ``sampling_algorithm``,
``limits``, ``early_termination``); mlops turns the named step of the training pipeline into a
``type: sweep`` step with it. The objective defaults to the champion metric, which the trial
reports on a validation share of the training rows (the template's and the example's train
components take ``validation_metric`` for that). Declaring a sweep in the pipeline file instead is
the other way; one project uses one of them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mlops_azure.config._base import _Strict


class TuningLimits(_Strict):
    """Azure ML's sweep limits."""

    max_total_trials: int = Field(20, ge=1)
    #: Default: one trial per core locally; all at once on Azure ML.
    max_concurrent_trials: int | None = Field(None, ge=1)
    #: Seconds for the whole sweep, and for one trial.
    timeout: int | None = Field(None, ge=1)
    trial_timeout: int | None = Field(None, ge=1)


class TuningConfig(_Strict):
    """Which step to sweep, over what, towards what."""

    #: The training pipeline's command step to sweep.
    step: str = "train"
    #: The trial's inputs and their distributions (choice, randint, uniform, loguniform, quniform).
    search_space: dict[str, dict[str, Any]] = Field(min_length=1)
    #: The metric the trial reports (default: champion.metric) and its goal (default: champion.direction).
    metric: str | None = None
    goal: Literal["minimize", "maximize"] | None = None
    #: random, grid or bayesian, or a mapping (``{type: random, seed: 7}``).
    sampling_algorithm: str | dict[str, Any] = "random"
    limits: TuningLimits = TuningLimits()
    #: median_stopping, bandit or truncation_selection (not with bayesian sampling).
    early_termination: dict[str, Any] | None = None
    #: The share of the training rows the trial validates on (its ``validation_share`` input).
    validation_share: float | None = Field(None, gt=0, lt=1)
