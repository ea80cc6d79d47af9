"""Fixtures for integration tests: a fresh example project on the embedded workspace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.scaffold import init_project
from mlops_azure.workspace import Workspace

#: Small, fast hyper-parameters for tests that only need *a* model.
FAST = {"n_estimators": 60}


@pytest.fixture
def project(tmp_path: Path) -> ProjectConfig:
    """A fresh `mlops init` project (data generated, nothing registered)."""
    root = tmp_path / "proj"
    init_project(root)
    return load_config(root / "mlops.yaml")


@pytest.fixture
def workspace(project: ProjectConfig) -> Workspace:
    return open_workspace(project)


@pytest.fixture
def edit_data(project: ProjectConfig) -> Callable[[Callable[[list[str]], list[str]]], None]:
    """Rewrite the project's CSV line by line (header first)."""

    def edit(change: Callable[[list[str]], list[str]]) -> None:
        path = project.resolve(project.data.path)
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(change(lines)) + "\n", encoding="utf-8")

    return edit
