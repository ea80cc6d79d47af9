"""Choosing the Workspace implementation a config points at."""

from __future__ import annotations

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import UserInputError
from mlops_azure.workspace import Workspace


def open_workspace(config: ProjectConfig, backend: str | None = None) -> Workspace:
    """The workspace of ``config.backend``, or of ``backend`` when given (``--backend``)."""
    chosen = backend or config.backend
    if chosen == "local":
        from mlops_azure.local import LocalWorkspace

        return LocalWorkspace(config.workspace_dir)
    if chosen == "azure":
        from mlops_azure.azure import AzureWorkspace

        return AzureWorkspace.from_config(config)
    raise UserInputError(f"backend '{chosen}' does not exist (use local or azure)")
