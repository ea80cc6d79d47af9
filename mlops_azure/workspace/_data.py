"""``DataAssets``: versioned data on a backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from mlops_azure.records import DataAsset, InputValue


class DataAssets(ABC):
    """Data assets: versioned, content-addressed files or folders (``ws.data``)."""

    @abstractmethod
    def upload(self, name: str, path: Path, *, description: str = "",
               actor: str | None = None) -> DataAsset:
        """Store ``path`` (file or folder) as the next version of data asset ``name``, recorded
        for ``actor`` (the audit trail's actor rule decides when None).

        Uploading content identical to the latest version returns that version unchanged.
        """

    @abstractmethod
    def get(self, name: str, version: int | None = None) -> DataAsset:
        """One version of a data asset; the latest when ``version`` is None."""

    @abstractmethod
    def versions(self, name: str | None = None) -> list[DataAsset]:
        """Data asset versions, newest first."""

    @abstractmethod
    def local_path(self, asset: DataAsset) -> Path:
        """A local file or folder holding the asset's content (downloaded when remote)."""

    def input(self, asset: DataAsset) -> InputValue:
        """How a pipeline submission refers to a data asset: a local path here, an ``azureml:``
        reference on Azure ML (so the job reads it where it is instead of re-uploading it)."""
        return self.local_path(asset)
