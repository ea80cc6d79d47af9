"""``ModelRegistry``: registered model versions on a backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

from mlops_azure.records import InputValue, Lineage, ModelVersion


class ModelRegistry(ABC):
    """Registered models with their lineage and documents (``ws.models``)."""

    @abstractmethod
    def register(
        self,
        name: str,
        *,
        job_id: str,
        output: str,
        metrics: Mapping[str, float],
        lineage: Lineage,
        tags: Mapping[str, str] | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Register a job's output folder as the next version of ``name`` (never re-uploaded)."""

    @abstractmethod
    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """One model version; the latest when ``version`` is None."""

    @abstractmethod
    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Model versions, newest first."""

    @abstractmethod
    def archive(self, name: str, version: int, *, actor: str) -> None:
        """Hide a model version from ``list`` and from "latest" (``get`` without a version); it
        stays readable by version and keeps serving where it is deployed. Version numbers are
        never reused."""

    @abstractmethod
    def put_document(self, name: str, version: int, filename: str, content: bytes) -> None:
        """Store a document about a model version beside it (its model card, say), replacing
        one of the same ``filename``. The model's own artifacts stay untouched, so its content
        hash still holds."""

    @abstractmethod
    def get_document(self, name: str, version: int, filename: str) -> bytes:
        """A document stored with :meth:`put_document`; ``NotFoundError`` when absent."""

    @abstractmethod
    def local_path(self, name: str, version: int) -> Path:
        """A local folder holding the model version's files, verified against its hash."""

    def input(self, model: ModelVersion) -> InputValue:
        """How a pipeline submission refers to a registered model's folder (see
        ``DataAssets.input``)."""
        return self.local_path(model.name, model.version)
