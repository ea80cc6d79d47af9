"""``mlops init --example steel``: write a complete, working copy of the steel example project and
generate its data. (``mlops init --data`` is :mod:`mlops_azure.init_from_data`.)"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from mlops_azure.project_ci import (
    SHARED_WITH_REPOSITORY,
    PipelineValues,
    folder_in_repository,
    write_pipelines,
    write_project_ci,
)
from mlops_azure.templates import copy_parts, project_target, shipped, staged_project

#: What a project is made of, relative to the template root.
#: ``sample-request.json`` is a scoring request for ``mlops invoke --file``.
PROJECT_FILES = ("mlops.yaml", "sample-request.json", "components", "pipelines", "environments")
DATA_FILE = Path("data/purchases.csv")
#: The example project's Azure DevOps pipelines, as ``mlops init --example steel`` writes them.
PIPELINES = PipelineValues(name="steel", data_asset="steel-purchases",
                           data_path=DATA_FILE.as_posix(), landing_container="erp-extracts",
                           landing_prefix="purchases/")
#: The same, as this repository runs them: from examples/steel, mlops-azure installed from the
#: checkout, and the example's landing account (``make pipelines`` writes them into
#: .azure-pipelines/). A project made from the example names no account: it is not theirs.
REPOSITORY_PIPELINES = replace(
    PIPELINES, project_dir="examples/steel", install=".",
    landing_account_url="https://ststeellanding.blob.core.windows.net")


def template_root() -> Path:
    """The steel example project shipped with the package (or the source checkout when editable)."""
    return shipped("examples/steel", PROJECT_FILES)


def write_repository_pipelines(folder: Path) -> list[Path]:
    """This repository's pipelines for the steel example (``make pipelines``)."""
    return write_pipelines(folder, REPOSITORY_PIPELINES, only=SHARED_WITH_REPOSITORY)


@dataclass(frozen=True)
class InitResult:
    root: Path
    files: int
    data_rows: int
    #: Files of the folder's ``.azure-pipelines/`` and ``tests/`` kept instead of mlops's.
    kept: list[str] = field(default_factory=list)


def init_project(target: Path, *, force: bool = False, seed: int = 7, organisations: int = 4,
                 customers: int = 5, repository_folder: str | None = None) -> InitResult:
    """Create the example project in ``target``; refuses to overwrite a project unless ``force``.
    ``repository_folder``: where the project will sit in its git repository, for the pipelines
    (default: where ``target`` is in the repository around it now).

    The project is built in a temporary folder beside the target and moved into place at the
    end, so an interrupted init leaves nothing half-written.
    """
    from mlops_azure.example.generator import write_purchases

    root = project_target(target, (*PROJECT_FILES, "data"), force=force)
    kept: list[str] = []
    with staged_project(root, kept) as staging:
        copy_parts(template_root(), staging, PROJECT_FILES)
        data = staging / DATA_FILE
        data.parent.mkdir(parents=True)
        write_purchases(data, seed=seed, organisations=organisations,
                        customers_per_organisation=customers)
        rows = sum(1 for _ in data.open(encoding="utf-8")) - 1
        write_project_ci(staging, replace(PIPELINES, project_dir=repository_folder
                                          or folder_in_repository(root)))
        files = sum(1 for p in staging.rglob("*") if p.is_file())
    return InitResult(root, files, rows, kept)
