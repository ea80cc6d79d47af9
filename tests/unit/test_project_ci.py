"""The pipelines and tests `mlops init` writes into a project (mlops_azure/project_ci)."""

from __future__ import annotations

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
    # No landing container yet: the hourly data watch is skipped until one is named.
    assert monitoring["landingAccountUrl"] == "" and monitoring["landingPrefix"] == "churn-data/"
    setup = yaml.safe_load(rendered["templates/setup.yml"])
    assert setup["parameters"][1] == {"name": "package", "type": "string",
                                      "default": project_ci.installed_requirement()}


class _Installed:
    def __init__(self, direct_url: str | None) -> None:
        self.direct_url = direct_url

    def read_text(self, name: str) -> str | None:
        return self.direct_url if name == "direct_url.json" else None


@pytest.mark.parametrize(("direct_url", "expected"), [
    # Installed from a git repository: the agents install that very commit, without the token.
    ('{"url": "https://build:s3cret@dev.azure.com/org/ml/_git/mlops-azure", '
     '"vcs_info": {"vcs": "git", "commit_id": "0123abc"}}',
     "mlops-azure @ git+https://dev.azure.com/org/ml/_git/mlops-azure@0123abc"),
    ('{"url": "ssh://git@ssh.dev.azure.com/v3/org/ml/mlops-azure", "subdirectory": "pkg", '
     '"vcs_info": {"vcs": "git", "commit_id": "0123abc"}}',
     "mlops-azure @ git+ssh://git@ssh.dev.azure.com/v3/org/ml/mlops-azure@0123abc"
     "#subdirectory=pkg"),
    ('{"url": "https://[::1]:8443/mlops-azure?token=abc", '
     '"vcs_info": {"vcs": "git", "commit_id": "0123abc"}}',
     "mlops-azure @ git+https://[::1]:8443/mlops-azure@0123abc"),
    # From a local folder (an editable checkout): nothing an agent can reach, so the version.
    ('{"url": "file:///home/me/mlops-azure", "dir_info": {"editable": true}}',
     f"mlops-azure=={__version__}"),
    (None, f"mlops-azure=={__version__}"),
    ("not json", f"mlops-azure=={__version__}"),
])
def test_the_pipelines_install_the_mlops_azure_that_made_the_project(
        direct_url: str | None, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    monkeypatch.setattr(metadata, "distribution", lambda name: _Installed(direct_url))
    assert project_ci.installed_requirement() == expected


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
