"""Online deployments on Azure as Azure provisions them: slow, with an image build first, never
PUT into while still provisioning, within Azure's limits, and reporting to Application Insights."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_azure.azure import AzureWorkspace
from mlops_azure.errors import DeploymentFailed, UserInputError
from mlops_azure.testing import SimulatedAzureML
from mlops_azure.workspace import DeploymentSpec, DeploymentState, Lineage, PipelineSubmission

STEP_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: fit
version: '1'
type: command
code: .
environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
outputs: {model: {type: uri_folder}}
command: python fit.py ${{outputs.model}}
"""
PIPELINE_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
experiment_name: fit
outputs: {model: {type: uri_folder}}
jobs:
  fit:
    type: command
    component: ./fit.yml
    outputs: {model: '${{parent.outputs.model}}'}
"""
FIT_PY = """\
import pathlib, sys
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
(out / "model.json").write_text('{"total": 2}')
"""
SCORE_PY = """\
import json

def init():
    pass

def run(raw):
    return {"predictions": [len(json.loads(raw)["data"])]}
"""


@pytest.fixture
def spec(azure_workspace: AzureWorkspace, tmp_path: Path) -> DeploymentSpec:
    """Model ``clf:1`` registered from a one-step pipeline, and the code that serves it."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "fit.yml").write_text(STEP_YAML)
    (project / "fit.py").write_text(FIT_PY)
    (project / "pipeline.yml").write_text(PIPELINE_YAML)
    job = azure_workspace.run_pipeline(PipelineSubmission(project / "pipeline.yml", {}, "fit"))
    lineage = Lineage(data_asset="d", data_version=1, data_sha256="ab" * 32, code_commit="c",
                      job_id=job.id, params={}, environment_hash="cd" * 32, creator="me")
    azure_workspace.register_model("clf", job_id=job.id, output="model", metrics={"wape": 0.1},
                                   lineage=lineage)
    code = tmp_path / "serving"
    code.mkdir()
    (code / "score.py").write_text(SCORE_PY)
    return DeploymentSpec("clf", 1, code, "score.py")


def _puts(sim: SimulatedAzureML, deployment: str) -> int:
    return len(sim.calls_to("PUT", rf"/deployments/{deployment}$"))


def test_a_rerun_waits_for_a_deployment_still_provisioning_instead_of_putting_again(
        azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, spec: DeploymentSpec) -> None:
    azure_workspace.create_endpoint("ep-slow")
    azure_sim.endpoints.provision_s = 3.0
    with pytest.raises(DeploymentFailed, match=r"did not finish within \d+ s.*may still complete"):
        azure_workspace.create_deployment("ep-slow", "blue", spec, timeout_s=0.5)
    assert azure_workspace.get_deployment("ep-slow", "blue").state is DeploymentState.CREATING
    done = azure_workspace.create_deployment("ep-slow", "blue", spec, timeout_s=60)
    assert done.state is DeploymentState.SUCCEEDED and done.model_ref == "clf:1"
    assert _puts(azure_sim, "blue") == 1  # the rerun waited; it did not PUT into 'Creating'


def test_deployments_report_to_app_insights_unless_a_stage_turns_it_off(
        azure_workspace: AzureWorkspace, spec: DeploymentSpec) -> None:
    import dataclasses

    azure_workspace.create_endpoint("ep-watched")
    azure_workspace.create_deployment("ep-watched", "blue", spec)
    assert azure_workspace.ml.online_deployments.get("blue", "ep-watched").app_insights_enabled
    quiet = dataclasses.replace(spec, app_insights_enabled=False)
    azure_workspace.create_deployment("ep-watched", "green", quiet)
    assert not azure_workspace.ml.online_deployments.get("green", "ep-watched").app_insights_enabled


def test_limits_are_checked_before_any_request(
        azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, spec: DeploymentSpec) -> None:
    import dataclasses

    azure_workspace.create_endpoint("ep-many")
    with pytest.raises(UserInputError, match="at most 50 instances"):
        azure_workspace.create_deployment("ep-many", "blue", dataclasses.replace(spec, instance_count=51))
    with pytest.raises(UserInputError, match="instance type 'Standard_B2s'"):
        azure_workspace.create_deployment("ep-many", "blue",
                                          dataclasses.replace(spec, instance_type="Standard_B2s"))
    azure_sim.add_kubernetes_compute("aks")
    long_endpoint = "k" + "8" * 31
    azure_workspace.create_endpoint(long_endpoint, kind="kubernetes", compute="aks")
    with pytest.raises(UserInputError, match="6-62 characters"):
        azure_workspace.create_deployment(long_endpoint, "d" * 31, spec)
    assert _puts(azure_sim, "blue") == 0 and _puts(azure_sim, "d" * 31) == 0
