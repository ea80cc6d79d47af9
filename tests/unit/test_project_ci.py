"""The pipelines and tests `mlops init` writes into a project (mlops_azure/project_ci)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from mlops_azure import __version__, project_ci
from mlops_azure.example.scaffold import REPOSITORY_PIPELINES
from mlops_azure.project_ci import SHARED_WITH_REPOSITORY, PipelineValues, render

REPO = Path(__file__).resolve().parents[2]
CHURN = PipelineValues(name="churn", data_asset="churn-data", data_path="data/churn.csv")


@pytest.mark.parametrize("relative", SHARED_WITH_REPOSITORY)
def test_this_repository_runs_the_pipelines_projects_get(relative: str) -> None:
    on_disk = (REPO / ".azure-pipelines" / relative).read_text(encoding="utf-8")
    assert on_disk == render(REPOSITORY_PIPELINES)[relative], (
        f".azure-pipelines/{relative} differs from mlops_azure/project_ci: run make pipelines")


def test_every_placeholder_is_filled_and_every_file_parses() -> None:
    rendered = render(CHURN)
    assert {"ci.yml", "training.yml", "release.yml", "monitoring.yml",
            "templates/data.yml", *SHARED_WITH_REPOSITORY} <= set(rendered)
    for relative, text in rendered.items():
        assert "@@" not in text, relative
        assert isinstance(yaml.safe_load(text), dict), relative


def test_the_values_land_where_azure_devops_reads_them() -> None:
    rendered = render(CHURN)
    training = yaml.safe_load(rendered["training.yml"])["variables"]
    assert training == {"projectDir": ".", "azureServiceConnection": "churn-mlops-wif",
                        "azureResourceGroup": "rg-churn-mlops", "azureMLWorkspace": "mlw-churn-mlops",
                        "dataAsset": "churn-data", "dataPath": "data/churn.csv"}
    release = yaml.safe_load(rendered["release.yml"])
    assert release["resources"]["pipelines"][0]["source"] == "churn-training"
    monitoring = yaml.safe_load(rendered["monitoring.yml"])["variables"]
    assert monitoring["landingAccountUrl"] == "https://stchurnlanding.blob.core.windows.net"
    assert monitoring["landingPrefix"] == "churn-data/"
    # The release installs the version of mlops-azure that made the project.
    assert f'pip install "mlops-azure=={__version__}"' in rendered["templates/setup.yml"]


@pytest.mark.parametrize("name", ["churn", "Very-Long_Project.Name-2026-with-more", "x"])
def test_the_landing_account_is_a_valid_storage_account_name(name: str) -> None:
    account = PipelineValues(name=name, data_asset="d", data_path="d.csv").landing_account
    assert re.fullmatch(r"[a-z0-9]{3,24}", account), account


def test_an_unknown_placeholder_is_an_error_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken.yml").write_text("name: @@nmae@@\n", encoding="utf-8")
    monkeypatch.setattr(project_ci, "TEMPLATES", tmp_path)
    with pytest.raises(KeyError, match=r"broken\.yml: unknown placeholder @@nmae@@"):
        render(CHURN)


def test_the_project_folder_is_found_in_the_repository_around_it(tmp_path: Path) -> None:
    assert project_ci.folder_in_repository(tmp_path / "alone") == "."
    subprocess.run(["git", "-C", str(tmp_path), "init", "-q"], check=True, timeout=60)
    assert project_ci.folder_in_repository(tmp_path) == "."
    # Not made yet: the pipelines are written before the project's folder is moved into place.
    assert project_ci.folder_in_repository(tmp_path / "ml" / "churn") == "ml/churn"
