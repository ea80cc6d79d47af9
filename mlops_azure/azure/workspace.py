"""``AzureWorkspace``: the ``Workspace`` on Azure ML, one service per module, composed here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlops_azure.azure.batch_endpoints import AzureBatchEndpoints
from mlops_azure.azure.client import AzureCoordinates
from mlops_azure.azure.connection import AzureConnection
from mlops_azure.azure.data import AzureData
from mlops_azure.azure.endpoints import AzureEndpoints
from mlops_azure.azure.events import AzureEvents
from mlops_azure.azure.infrastructure import AzureInfrastructure
from mlops_azure.azure.jobs import AzureJobs
from mlops_azure.azure.locks import AzureLocks
from mlops_azure.azure.models import AzureModels
from mlops_azure.azure.monitoring import AzureMonitoring
from mlops_azure.azure.parallel import azure_variants
from mlops_azure.azure.schedules import AzureSchedules
from mlops_azure.workspace import Workspace

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential
    from azure.storage.blob import BlobServiceClient

    from mlops_azure.config import ProjectConfig


class AzureWorkspace(Workspace):
    """An Azure ML workspace through ``azure-ai-ml``, ``azure-identity`` and
    ``azure-storage-blob``. Nothing touches the network until the first operation.

    ``credential`` defaults to ``DefaultAzureCredential``; ``blobs`` to the default datastore's
    storage account (or ``AZURE_STORAGE_CONNECTION_STRING``). Every service shares one
    :class:`AzureConnection` (one client, one download cache).
    """

    backend = "azure"

    def __init__(
        self,
        coords: AzureCoordinates,
        cache_dir: Path,
        *,
        credential: TokenCredential | None = None,
        blobs: BlobServiceClient | None = None,
        compute: str = "cpu-cluster",
        compute_size: str = "Standard_DS3_v2",
        compute_max_nodes: int = 4,
        kubernetes_compute: str | None = None,
        environments_dir: Path | None = None,
        poll_interval_s: float = 10.0,
        pipeline_variants: dict[Path, Path] | None = None,
    ) -> None:
        self.conn = conn = AzureConnection(coords, cache_dir, credential=credential, blobs=blobs,
                                           poll_interval_s=poll_interval_s)
        self.events = AzureEvents(conn)
        self.locks = AzureLocks(conn)
        self.infrastructure = infrastructure = AzureInfrastructure(
            conn, compute=compute, compute_size=compute_size,
            compute_max_nodes=compute_max_nodes, environments_dir=environments_dir)
        self.data = data = AzureData(conn, self.events)
        self.jobs = jobs = AzureJobs(conn, data, infrastructure, compute=compute,
                                     pipeline_variants=pipeline_variants)
        self.models = models = AzureModels(conn, jobs, self.events)
        self.endpoints = AzureEndpoints(conn, models, infrastructure,
                                        kubernetes_compute=kubernetes_compute)
        self.batch = AzureBatchEndpoints(conn, models, jobs, infrastructure, compute=compute)
        self.schedules = AzureSchedules(conn, jobs)
        self.monitors = AzureMonitoring(conn)

    @property
    def ml(self) -> MLClient:
        """The ``azure-ai-ml`` client every service uses, for what mlops does not cover."""
        return self.conn.ml

    def __repr__(self) -> str:
        return f"AzureWorkspace({self.conn.coords.where!r})"

    @classmethod
    def from_config(cls, config: ProjectConfig, *, credential: TokenCredential | None = None,
                    blobs: BlobServiceClient | None = None) -> AzureWorkspace:
        """The workspace ``mlops.yaml`` (or ``config.json`` / ``AZURE_*`` variables) names."""
        section = config.azure
        subscription, group, workspace = section.coordinates(config.root)
        coords = AzureCoordinates(subscription, group, workspace, retries=section.retries,
                                  retry_backoff_s=section.retry_backoff_s,
                                  operation_timeout_s=section.operation_timeout_s)
        return cls(coords, config.workspace_dir / "azure-cache", credential=credential,
                   blobs=blobs, compute=section.compute, compute_size=section.compute_size,
                   compute_max_nodes=section.compute_max_nodes,
                   kubernetes_compute=section.kubernetes_compute,
                   environments_dir=config.resolve(Path("environments")),
                   poll_interval_s=section.poll_interval_s,
                   pipeline_variants=azure_variants(config))


__all__ = ["AzureWorkspace"]
