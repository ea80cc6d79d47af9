"""Asset versions are immutable on Azure ML: a registration that loses the race for a version
number takes the next one instead of overwriting what the winner registered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_azure.azure import AzureWorkspace
from mlops_azure.testing import SimulatedAzureML
from mlops_azure.workspace import Lineage, PipelineSubmission

STEP = """$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: make
version: '1'
type: command
code: .
environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
outputs: {model: {type: uri_folder}, other: {type: uri_folder}}
command: python make.py ${{outputs.model}} ${{outputs.other}}
"""
PIPELINE = """$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
experiment_name: versions
outputs: {model: {type: uri_folder}, other: {type: uri_folder}}
jobs:
  make:
    type: command
    component: ./make.yml
    outputs: {model: '${{parent.outputs.model}}', other: '${{parent.outputs.other}}'}
"""


def _stale_once(real: Any, stale: Any) -> Any:
    """The first call answers what another process saw a moment before the winner's PUT."""
    calls: list[int] = []

    def answer(*args: Any) -> Any:
        calls.append(1)
        return stale if len(calls) == 1 else real(*args)

    return answer


def _lineage(job: str) -> Lineage:
    return Lineage(data_asset="d", data_version=1, data_sha256="ab" * 32, code_commit="c",
                   job_id=job, params={}, environment_hash="cd" * 32, creator="a@example.com")


def test_a_model_registration_that_lost_the_race_takes_the_next_version(
        azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "make.py").write_text(
        "import sys, pathlib\nfor i, arg in enumerate(sys.argv[1:]):\n"
        "    out = pathlib.Path(arg); out.mkdir(parents=True, exist_ok=True)\n"
        "    (out / 'model.txt').write_text(str(i))\n")
    (tmp_path / "make.yml").write_text(STEP)
    (tmp_path / "pipeline.yml").write_text(PIPELINE)
    job = azure_workspace.jobs.run_pipeline(PipelineSubmission(tmp_path / "pipeline.yml", {},
                                                          "versions"))
    first = azure_workspace.models.register("clf", job_id=job.id, output="model",
                                           metrics={"auc": 0.7}, lineage=_lineage(job.id))
    monkeypatch.setattr(azure_workspace.models, "_next_version",
                        _stale_once(azure_workspace.models._next_version, 1))
    second = azure_workspace.models.register("clf", job_id=job.id, output="other",
                                            metrics={"auc": 0.9}, lineage=_lineage(job.id))
    assert (first.version, second.version) == (1, 2)
    assert azure_workspace.models.get("clf", 1).sha256 == first.sha256 != second.sha256


def test_a_data_upload_that_lost_the_race_takes_the_next_version(
        azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = tmp_path / "ours.csv", tmp_path / "theirs.csv"
    ours.write_text("a\n1\n")
    theirs.write_text("a\n2\n")
    won = azure_workspace.data.upload("sales", theirs)
    monkeypatch.setattr(azure_workspace.data, "_latest_data",
                        _stale_once(azure_workspace.data._latest_data, None))
    lost = azure_workspace.data.upload("sales", ours)
    assert (won.version, lost.version) == (1, 2)
    assert azure_workspace.data.get("sales", 1).sha256 == won.sha256


def test_a_data_upload_after_an_archived_version_skips_its_number(
        azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path) -> None:
    for number in (1, 2):
        (tmp_path / f"{number}.csv").write_text(f"a\n{number}\n")
        azure_workspace.data.upload("sales", tmp_path / f"{number}.csv")
    azure_workspace.ml.data.archive("sales", version="2")
    (tmp_path / "3.csv").write_text("a\n3\n")
    assert azure_workspace.data.upload("sales", tmp_path / "3.csv").version == 3
