"""Global options and the objects every command needs: the config and the workspace.

Heavy modules (pydantic models, pandas, azure.ai.ml) are imported inside the functions so that
``mlops --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_azure.config import ProjectConfig
    from mlops_azure.project import Project
    from mlops_azure.workspace import Workspace


@dataclass
class State:
    """What the global options said."""

    config_path: Path = Path("mlops.yaml")
    backend: str | None = None
    json: bool = False
    debug: bool = False
    #: Tables show every column, wrapped, instead of leaving low-value ones out to fit.
    wide: bool = False

    def project(self) -> Project:
        """The project ``--config`` names, on the ``--backend`` chosen (workspace opened on use)."""
        from mlops_azure.project import Project

        return Project.load(self.config_path, self.backend)

    def config(self) -> ProjectConfig:
        from mlops_azure.config import load_config

        return load_config(self.config_path)

    def workspace(self, config: ProjectConfig | None = None) -> Workspace:
        from mlops_azure.backends import open_workspace

        return open_workspace(config or self.config(), self.backend)


#: The single State of this process, filled by the top-level callback.
STATE = State()
