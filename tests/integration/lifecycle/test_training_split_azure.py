"""submit_training + finish_training on the Azure workspace (over the simulated Azure ML service):
the baseline travels in the job's tags and the job id is all an attaching agent needs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlops_azure.config import ProjectConfig
from mlops_azure.lifecycle.training import finish_training, submit_training

if TYPE_CHECKING:
    from mlops_azure.azure import AzureWorkspace


def test_submit_then_attach_registers_on_azure(
    project: ProjectConfig, azure_workspace: AzureWorkspace
) -> None:
    # What AzureWorkspace.from_config sets, then `mlops infra ensure` as training.yml runs first.
    azure_workspace.infrastructure.environments_dir = project.resolve(Path("environments"))
    azure_workspace.infrastructure.ensure()
    job = submit_training(azure_workspace, project, params={"n_estimators": 60})
    assert job.tags["data"] == "steel-purchases:1" and job.tags["champion"] == ""
    outcome = finish_training(azure_workspace, project, job.id, timeout_s=300)
    assert outcome.model is not None and outcome.model.ref == "steel-purchase-forecast:1"
    assert outcome.model.lineage.job_id == job.id
    assert outcome.model.lineage.params["n_estimators"] == 60
    again = finish_training(azure_workspace, project, job.id)
    assert again.model is not None and again.model.ref == outcome.model.ref
    assert [m.ref for m in azure_workspace.models.versions()] == ["steel-purchase-forecast:1"]
