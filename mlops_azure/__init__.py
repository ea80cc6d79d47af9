"""mlops-azure as a library: from raw data to a production endpoint on Azure Machine Learning.

Start from :class:`Project`::

    from mlops_azure import Project

    project = Project.load("path/to/project")      # the folder holding mlops.yaml
    outcome = project.train()                      # pipeline, champion gate, registration
    if outcome.model is not None:
        project.deploy(outcome.model.ref, "staging")
        report = project.gate_qa("staging")
        print(report.passed, project.status().to_dict())

Every name below is importable from ``mlops_azure`` itself; the modules behind them are private
to the package's layout and may move. Importing ``mlops_azure`` costs next to nothing: each name
is loaded on first use, so neither the Azure ML SDK, pandas nor LightGBM is imported until an
operation needs it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_azure.backends import open_workspace
    from mlops_azure.config import ProjectConfig, load_config
    from mlops_azure.errors import (
        BackendError,
        GateFailed,
        MlopsError,
        NotFoundError,
        UserInputError,
    )
    from mlops_azure.lifecycle.approval import Approval
    from mlops_azure.lifecycle.batch import BatchResult
    from mlops_azure.lifecycle.explain import RowExplanation
    from mlops_azure.lifecycle.maturity import Maturity
    from mlops_azure.lifecycle.monitoring import DriftCheck
    from mlops_azure.lifecycle.qa import QaReport
    from mlops_azure.lifecycle.release import ReleaseOutcome
    from mlops_azure.lifecycle.scoring import ScoreResponse
    from mlops_azure.lifecycle.status import ProjectStatus, StageDeployment
    from mlops_azure.lifecycle.training import TrainingOutcome, TrainingStillRunning
    from mlops_azure.project import Project
    from mlops_azure.responsible import ModelCard
    from mlops_azure.workspace import AuditEvent, Job, ModelVersion, Workspace

#: Where each public name lives; read on first access (PEP 562), so importing the package is cheap.
_LOCATIONS = {
    "Project": "mlops_azure.project",
    "ProjectConfig": "mlops_azure.config",
    "load_config": "mlops_azure.config",
    "Workspace": "mlops_azure.workspace",
    "open_workspace": "mlops_azure.backends",
    "ModelVersion": "mlops_azure.workspace",
    "Job": "mlops_azure.workspace",
    "AuditEvent": "mlops_azure.workspace",
    "TrainingOutcome": "mlops_azure.lifecycle.training",
    "TrainingStillRunning": "mlops_azure.lifecycle.training",
    "ReleaseOutcome": "mlops_azure.lifecycle.release",
    "QaReport": "mlops_azure.lifecycle.qa",
    "Approval": "mlops_azure.lifecycle.approval",
    "DriftCheck": "mlops_azure.lifecycle.monitoring",
    "BatchResult": "mlops_azure.lifecycle.batch",
    "RowExplanation": "mlops_azure.lifecycle.explain",
    "Maturity": "mlops_azure.lifecycle.maturity",
    "ScoreResponse": "mlops_azure.lifecycle.scoring",
    "ProjectStatus": "mlops_azure.lifecycle.status",
    "ModelCard": "mlops_azure.responsible",
    "StageDeployment": "mlops_azure.lifecycle.status",
    "MlopsError": "mlops_azure.errors",
    "UserInputError": "mlops_azure.errors",
    "NotFoundError": "mlops_azure.errors",
    "GateFailed": "mlops_azure.errors",
    "BackendError": "mlops_azure.errors",
}

#: Set on first access by ``__getattr__`` (importlib.metadata is not free).
__version__: str

__all__ = [
    "Approval",
    "AuditEvent",
    "BackendError",
    "BatchResult",
    "DriftCheck",
    "GateFailed",
    "Job",
    "Maturity",
    "MlopsError",
    "ModelCard",
    "ModelVersion",
    "NotFoundError",
    "Project",
    "ProjectConfig",
    "ProjectStatus",
    "QaReport",
    "ReleaseOutcome",
    "RowExplanation",
    "ScoreResponse",
    "StageDeployment",
    "TrainingOutcome",
    "TrainingStillRunning",
    "UserInputError",
    "Workspace",
    "__version__",
    "load_config",
    "open_workspace",
]


def _version() -> str:
    """The installed distribution's version, else the one in the source tree's pyproject.toml."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlops-azure")
    except PackageNotFoundError:
        import tomllib
        from pathlib import Path

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        # importlib.metadata costs more than the rest of the package: computed once, when asked.
        found: Any = _version()
    elif name in _LOCATIONS:
        found = getattr(import_module(_LOCATIONS[name]), name)
    else:
        raise AttributeError(f"module 'mlops_azure' has no attribute {name!r}")
    globals()[name] = found
    return found


def __dir__() -> list[str]:
    # The public names and the module's dunders, not the helpers this file imports.
    return sorted({*__all__, *(name for name in globals() if name.startswith("__"))})

