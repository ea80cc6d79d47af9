"""Optional services a backend may have: batch endpoints, drift monitors, infrastructure.

A workspace without one has None in its place (``ws.batch is None``), never a method that
raises: callers ask for the service, not for the backend's name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from mlops_azure.records import BatchScoringRun, DataAsset, DriftMonitor, ProgressCallback
from mlops_azure.records_serving import BatchDeploymentSpec


class BatchEndpoints(ABC):
    """A managed batch scoring service (``ws.batch``)."""

    @abstractmethod
    def score(self, spec: BatchDeploymentSpec, data: DataAsset, *, job_name: str,
              progress: ProgressCallback | None = None) -> BatchScoringRun:
        """Create or update batch endpoint ``spec.endpoint`` and its deployment of the model,
        invoke it with ``data`` as job ``job_name`` (an existing job of that name is followed
        instead of submitting again), wait for the job and download its appended output."""


class DriftMonitors(ABC):
    """A monitoring service that checks drift by itself (``ws.monitors``)."""

    @abstractmethod
    def create(self, monitor: DriftMonitor) -> None:
        """Create or replace a monitor the workspace runs by itself."""

    @abstractmethod
    def get(self, name: str) -> DriftMonitor | None:
        """Monitor ``name`` as it was created; None when there is none."""


class Infrastructure(ABC):
    """Compute and environments jobs and deployments run on (``ws.infrastructure``)."""

    @abstractmethod
    def ensure(self) -> list[str]:
        """Create what is missing; one line per resource."""
