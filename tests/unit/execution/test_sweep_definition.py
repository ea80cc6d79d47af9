"""Sweep steps are checked before anything runs, as Azure ML checks them, one sentence per problem."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mlops_azure.errors import UserInputError
from mlops_azure.execution.command_template import ComponentInput
from mlops_azure.execution.sweep_definition import parse_sweep
from mlops_azure.execution.sweep_study import distribution as _distribution
from mlops_azure.execution.sweep_study import pruner as _pruner
from mlops_azure.execution.sweep_study import sample_params

PORTS = {"lr": ComponentInput("lr", "number"), "leaves": ComponentInput("leaves", "integer"),
         "kind": ComponentInput("kind", "string"), "data": ComponentInput("data", "uri_folder")}


def sweep(**changes: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "search_space": {"lr": {"type": "loguniform", "min_value": -4.6, "max_value": -1.6},
                         "leaves": {"type": "quniform", "min_value": 8, "max_value": 64, "q": 8}},
        "objective": {"goal": "minimize", "primary_metric": "rmse"},
        "sampling_algorithm": "random", "limits": {"max_total_trials": 10, "max_concurrent_trials": 2}}
    job.update(changes)
    return job


def refused(job: dict[str, Any]) -> str:
    with pytest.raises(UserInputError) as caught:
        parse_sweep(job, PORTS, "p.yml: jobs.train")
    message = str(caught.value)
    assert message.startswith("p.yml: jobs.train") and "\n" not in message
    return message


def test_a_valid_sweep_maps_onto_optuna_distributions() -> None:
    settings = parse_sweep(sweep(), PORTS, "p.yml: jobs.train")
    lr = _distribution(settings.search_space["lr"])
    # Azure's loguniform bounds are natural-log exponents.
    assert lr.low == pytest.approx(math.exp(-4.6)) and lr.high == pytest.approx(math.exp(-1.6))  # type: ignore[attr-defined]
    leaves = _distribution(settings.search_space["leaves"])
    assert (leaves.low, leaves.high, leaves.step) == (8, 64, 8)  # type: ignore[attr-defined]
    assert type(leaves).__name__ == "IntDistribution"
    assert settings.max_concurrent_trials == 2 and settings.metric == "rmse"
    assert sample_params(settings) == {"lr": -4.6, "leaves": 8}
    assert type(_pruner(settings)).__name__ == "NopPruner"


@pytest.mark.parametrize(("change", "words"), [
    ({"sampling_algorithm": "bayesian",
      "early_termination": {"type": "median_stopping"}}, "bayesian sampling takes no early_termination"),
    ({"sampling_algorithm": "grid"}, "grid sampling takes choice parameters only"),
    ({"sampling_algorithm": "bayesian"}, "takes choice, uniform, quniform parameters only"),
    ({"objective": {"goal": "minimize"}}, "objective.primary_metric is required"),
    ({"objective": {"goal": "lower", "primary_metric": "rmse"}}, "goal must be minimize or maximize"),
    ({"limits": {"max_total_trials": 2, "max_concurrent_trials": 3}}, "exceeds max_total_trials"),
    ({"limits": {}}, "max_total_trials is required"),
    ({"search_space": {"nope": {"type": "choice", "values": [1]}}}, "not an input of the trial"),
    ({"search_space": {"lr": {"type": "normal", "mu": 0, "sigma": 1}}}, "no bounded equivalent"),
    ({"search_space": {"lr": {"type": "uniform", "min_value": 2, "max_value": 1}}}, "must be below"),
    ({"search_space": {"leaves": {"type": "uniform", "min_value": 2, "max_value": 9}}}, "integer input"),
    ({"search_space": {"kind": {"type": "uniform", "min_value": 0, "max_value": 1}}},
     "needs a numeric input"),
    ({"search_space": {"data": {"type": "choice", "values": ["a"]}}}, "cannot be swept"),
    ({"search_space": {"kind": {"type": "choice", "values": ["a", "a"]}}}, "lists a value twice"),
    ({"early_termination": {"type": "bandit"}}, "one of slack_factor or slack_amount"),
    ({"early_termination": {"type": "truncation_selection", "truncation_percentage": 100}},
     "between 1 and 99"),
    ({"early_termination": {"type": "asha"}}, "is not one of median_stopping"),
    ({"sampling_algorithm": {"type": "grid", "seed": 1}}, "random sampling only"),
])
def test_what_azure_refuses_is_refused_with_one_sentence(change: dict[str, Any], words: str) -> None:
    assert words in refused(sweep(**change))


def test_policies_map_to_optuna_pruners_with_azure_intervals() -> None:
    median = _pruner(parse_sweep(sweep(early_termination={
        "type": "median_stopping", "evaluation_interval": 5, "delay_evaluation": 20}), PORTS, "x"))
    assert type(median).__name__ == "MedianPruner"
    assert (median._n_warmup_steps, median._interval_steps) == (20, 5)  # type: ignore[attr-defined]
    truncation = _pruner(parse_sweep(sweep(early_termination={
        "type": "truncation_selection", "truncation_percentage": 20}), PORTS, "x"))
    assert truncation._percentile == 80.0  # type: ignore[attr-defined]  # keeps the top 80 %
    # The REST spelling azure-ai-ml sends reads back the same.
    rest = parse_sweep(sweep(early_termination={"policy_type": "MedianStopping"}), PORTS, "x")
    assert rest.early_termination is not None and rest.early_termination.type == "median_stopping"


def test_the_space_hash_changes_with_the_space_only() -> None:
    one = parse_sweep(sweep(), PORTS, "x")
    two = parse_sweep(sweep(limits={"max_total_trials": 50}), PORTS, "x")
    three = parse_sweep(sweep(search_space={"lr": {"type": "uniform", "min_value": 0.01, "max_value": 0.2}}),
                        PORTS, "x")
    assert one.space_sha256 == two.space_sha256 != three.space_sha256
