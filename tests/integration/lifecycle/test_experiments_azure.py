"""The experiments commands' logic on the Azure workspace (over the simulated Azure ML service):
the runs of the training experiment read from the jobs, their downloaded metrics output and the
registry, exactly as on the embedded workspace."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.experiments import compare, list_runs, write_html
from mlops_azure.lifecycle.training import train

if TYPE_CHECKING:
    from mlops_azure.azure import AzureWorkspace


def test_runs_listed_and_compared_on_azure(project: ProjectConfig, azure_workspace: AzureWorkspace,
                                           tmp_path: Path) -> None:
    azure_workspace.infrastructure.environments_dir = project.resolve(Path("environments"))
    azure_workspace.infrastructure.ensure()
    first = train(azure_workspace, project, params={"n_estimators": 60}, actor="tester")
    second = train(azure_workspace, project, params={"n_estimators": 60}, actor="tester")
    assert first.model is not None and second.model is None  # the same model is not better

    runs = list_runs(azure_workspace, project)
    assert [r.job_id for r in runs] == [second.job.id, first.job.id]
    assert [r.registered for r in runs] == [None, first.model.ref]
    assert runs[1].metrics == pytest.approx(dict(first.model.metrics))
    assert runs[0].metrics == pytest.approx(runs[1].metrics)
    assert all(r.data == "steel-purchases:1" and r.params["n_estimators"] == 60 for r in runs)
    assert all(not r.studies and r.sweep is None for r in runs)

    found = compare(azure_workspace, project, [first.job.id])
    assert [r.job_id for r in found.runs] == [first.job.id] and found.studies == ()
    write_html(tmp_path / "runs.html", found)
    assert first.job.id in (tmp_path / "runs.html").read_text(encoding="utf-8")
    with pytest.raises(UserInputError, match="'no-such-job' is neither a job id"):
        compare(azure_workspace, project, ["no-such-job"])
