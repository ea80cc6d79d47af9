"""What the simulated service refuses in a pipeline's sweep step when the job is submitted, as
Azure ML does ("CLI (v2) sweep job YAML schema"; "Hyperparameter tuning a model (v2)"): the
real azure-ai-ml SDK loads the YAML and sends the job, the service answers 400."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_azure.testing import FakeCredential, SimulatedAzureML

TRIAL = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: trial
version: "1"
inputs:
  rate: {type: number, default: 0.1}
  leaves: {type: integer, default: 4}
outputs:
  model: {type: uri_folder}
code: .
environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
command: python trial.py ${{inputs.rate}} ${{inputs.leaves}} ${{outputs.model}}
"""

#: A trial: its metric (the contract's MLOPS_METRICS_FILE lines) and a model file.
TRIAL_SCRIPT = """\
import json, os, pathlib, sys
rate, leaves, out = float(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
(out / "model.txt").write_text(f"{rate} {leaves}")
with open(os.environ["MLOPS_METRICS_FILE"], "a") as f:
    for step in range(3):
        f.write(json.dumps({"name": "rmse", "value": abs(rate - 0.1) + leaves / 100 + 1 / (step + 1),
                            "step": step}) + "\\n")
"""


def _pipeline(**sweep: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "type": "sweep", "trial": "./trial.yml", "outputs": {"model": "${{parent.outputs.model}}"},
        "sampling_algorithm": {"type": "random", "seed": 3},
        "search_space": {"rate": {"type": "uniform", "min_value": 0.01, "max_value": 0.3},
                         "leaves": {"type": "choice", "values": [4, 8]}},
        "objective": {"goal": "minimize", "primary_metric": "rmse"},
        "limits": {"max_total_trials": 3, "max_concurrent_trials": 1},
    }
    node.update(sweep)
    return {"$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
            "type": "pipeline", "experiment_name": "rules",
            "settings": {"default_compute": "azureml:cpu-cluster"},
            "outputs": {"model": {"type": "uri_folder"}}, "jobs": {"train": node}}


@pytest.fixture
def submit(azure_sim: SimulatedAzureML, tmp_path: Path) -> Callable[..., Any]:
    """Load a sweep pipeline with ``load_job`` and submit it; the ARM error, or None."""
    from azure.ai.ml import MLClient, load_job
    from azure.core.exceptions import HttpResponseError

    (tmp_path / "trial.yml").write_text(TRIAL)
    (tmp_path / "trial.py").write_text(TRIAL_SCRIPT)
    ml = MLClient(FakeCredential(), azure_sim.subscription, azure_sim.resource_group,
                  azure_sim.workspace, show_progress=False, retry_total=0)

    def run(change: Callable[[Any], None] | None = None, **sweep: Any) -> str | None:
        file = tmp_path / "pipeline.yml"
        file.write_text(yaml.safe_dump(_pipeline(**sweep), sort_keys=False))
        job = load_job(file)
        if change is not None:
            change(job.jobs["train"])
        try:
            # a changed node skips the SDK's own checks: the service must refuse it by itself
            ml.jobs.create_or_update(job, skip_validation=change is not None)
        except HttpResponseError as exc:
            assert exc.status_code == 400, exc
            return str(exc.message)
        return None

    return run


def _no_metric(node: Any) -> None:
    node.objective.primary_metric = None


@pytest.mark.parametrize(("sweep", "change", "refusal"), [
    ({"sampling_algorithm": "bayesian",
      "early_termination": {"type": "median_stopping", "evaluation_interval": 1}}, None,
     "bayesian sampling takes no early_termination"),
    ({"sampling_algorithm": "bayesian",
      "search_space": {"rate": {"type": "loguniform", "min_value": -4, "max_value": -1}}}, None,
     "bayesian sampling takes only choice, uniform and quniform parameters, "
     "search_space.rate is loguniform"),
    ({"sampling_algorithm": "grid"}, None,
     "grid sampling takes only choice parameters, search_space.rate is uniform"),
    ({"limits": {"max_total_trials": 2, "max_concurrent_trials": 4}}, None,
     "limits.max_concurrent_trials (4) is more than limits.max_total_trials (2)"),
    ({}, _no_metric, "objective.primary_metric is required"),
    ({"early_termination": {"type": "bandit", "evaluation_interval": 1}}, None,
     "a bandit policy needs slack_factor or slack_amount"),
])
def test_the_service_refuses_what_azure_refuses_in_a_sweep_step(
        submit: Callable[..., Any], azure_sim: SimulatedAzureML, sweep: dict[str, Any],
        change: Callable[[Any], None] | None, refusal: str) -> None:
    message = submit(change, **sweep)
    assert message is not None and f"sweep step train: {refusal}" in message
    assert not azure_sim.jobs.runs  # nothing was stored, nothing ran


def test_a_valid_sweep_step_is_accepted_and_its_node_is_what_the_runner_reads(
        submit: Callable[..., Any], azure_sim: SimulatedAzureML) -> None:
    from mlops_azure.execution.sweep_rest import yaml_node

    assert submit(early_termination={"type": "bandit", "slack_factor": 0.2,
                                     "evaluation_interval": 1, "delay_evaluation": 2}) is None
    body = [c.body for c in azure_sim.calls_to("PUT", r"/jobs/[^/]+$")][-1]
    node = body["properties"]["jobs"]["train"]
    # what azure-ai-ml 1.35 sends: the trial as a component, the policy in the service's words
    assert set(node["trial"]) == {"componentId"}
    assert node["early_termination"]["policy_type"] == "Bandit"
    back = yaml_node(node, "./components/train.yml", lambda v: v.get("value", v))
    assert back["early_termination"] == {"type": "bandit", "slack_factor": 0.2,
                                         "evaluation_interval": 1, "delay_evaluation": 2}
    assert back["sampling_algorithm"] == {"type": "random", "seed": 3}
    assert back["search_space"]["leaves"] == {"type": "choice", "values": [4, 8]}
    assert back["objective"] == {"goal": "minimize", "primary_metric": "rmse"}
    assert back["outputs"] == {"model": "${{parent.outputs.model}}"}
    azure_sim.wait_for_jobs(120)
    job = next(iter(azure_sim.jobs.runs))
    assert azure_sim.jobs.status_of(job) == "Completed"
    sweep = next(r for r in azure_sim.jobs.children[job] if r["runId"] == f"{job}_train")
    trials = azure_sim.jobs.children[f"{job}_train"]
    assert [t["runId"] for t in trials] == [f"{job}_train_{n}" for n in range(3)]
    assert sweep["properties"]["best_child_run_id"] in {t["runId"] for t in trials}
