"""Data assets and the data sanity gate."""

from __future__ import annotations

from pathlib import Path

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.refs import parse_ref
from mlops_azure.workspace import DataAsset, Workspace


def upload_data(ws: Workspace, path: Path, name: str, *, description: str = "") -> DataAsset:
    """Store ``path`` as the next version of data asset ``name`` (unchanged content: same version)."""
    if not path.exists():
        raise UserInputError(f"{path}: no such file or folder to upload")
    return ws.upload_data(name, path, description=description)


def resolve_training_data(ws: Workspace, config: ProjectConfig, ref: str | None) -> DataAsset:
    """The data asset to train on: ``NAME[:VERSION]`` when given, else ``data.path`` uploaded."""
    if ref:
        name, version = parse_ref(ref, what="data asset")
        return ws.get_data(name, version)
    path = config.resolve(config.data.path)
    if not path.exists():
        raise UserInputError(
            f"data.path {config.data.path} does not exist under {config.root} "
            "(generate it with 'mlops init', or pass --data NAME:VERSION)"
        )
    return ws.upload_data(config.data.asset, path)
