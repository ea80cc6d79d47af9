"""``OnlineEndpoints`` (and the optional ``LiveTraffic``): real-time serving on a backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

from mlops_azure.errors import NotFoundError
from mlops_azure.records_serving import (
    Deployment,
    DeploymentSpec,
    Endpoint,
    EndpointKeys,
    ServingDeployment,
    TrafficCounts,
)


class OnlineEndpoints(ABC):
    """Online endpoints, their deployments and traffic (``ws.endpoints``)."""

    @abstractmethod
    def create(self, name: str, *, kind: str = "local", description: str = "",
               compute: str | None = None) -> Endpoint:
        """Create the online endpoint ``name`` (no deployments, no traffic), or return it when it
        exists; a stopped local endpoint is started again on its old URL. ``compute`` is the
        attached Kubernetes compute of a ``kubernetes`` endpoint."""

    @abstractmethod
    def get(self, name: str) -> Endpoint:
        """One endpoint with its traffic; ``NotFoundError`` when it does not exist."""

    @abstractmethod
    def all(self) -> list[Endpoint]:
        """All endpoints, by name."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Delete an endpoint and every deployment behind it (local: stop their processes)."""

    @abstractmethod
    def create_deployment(
        self, endpoint: str, name: str, spec: DeploymentSpec, *, timeout_s: float = 300.0
    ) -> Deployment:
        """Create (or replace) deployment ``name`` under ``endpoint`` at 0 % traffic and wait until
        it answers. Raises ``DeploymentFailed`` with the tail of its logs when it cannot start;
        the endpoint's traffic is never changed by this call."""

    @abstractmethod
    def get_deployment(self, endpoint: str, name: str) -> Deployment:
        """One deployment with its current state (a dead local process shows as ``Unhealthy``)."""

    @abstractmethod
    def list_deployments(self, endpoint: str) -> list[Deployment]:
        """The deployments under an endpoint, by name."""

    @abstractmethod
    def delete_deployment(self, endpoint: str, name: str) -> None:
        """Delete a deployment; refused (``UserInputError``) while it receives live traffic."""

    @abstractmethod
    def set_traffic(
        self, endpoint: str, traffic: Mapping[str, int], mirror: Mapping[str, int] | None = None
    ) -> Endpoint:
        """Set the live traffic split (and mirror traffic, default none), effective for the next
        request. Follows Azure's rules: shares are integers 0-100 summing to 100, mirror traffic
        goes to at most one deployment that takes no live traffic, at most 50 %."""

    @abstractmethod
    def keys(self, endpoint: str) -> EndpointKeys:
        """The endpoint's auth keys; callers must not print them unless the user asked."""

    @abstractmethod
    def deployment_logs(self, endpoint: str, name: str, lines: int = 100) -> str:
        """The last ``lines`` lines of a deployment's server log."""

    @abstractmethod
    def collected_data_dir(self, endpoint: str, since_s: float | None = None) -> Path | None:
        """A local folder holding the requests and predictions the endpoint's deployments
        recorded (``DeploymentSpec.collect``), at least those of the last ``since_s`` seconds
        (all when None), one JSON line per request; None when nothing was collected."""

    def traffic(self, endpoint: str) -> list[ServingDeployment]:
        """The deployments behind an endpoint with their traffic, most traffic first; empty when
        the endpoint does not exist."""
        try:
            found = self.get(endpoint)
            deployments = self.list_deployments(endpoint)
        except NotFoundError:
            return []
        rows = [ServingDeployment(endpoint, d.name, d.model_name, d.model_version,
                                  int(found.traffic.get(d.name, 0))) for d in deployments]
        return sorted(rows, key=lambda d: (-d.traffic, d.deployment))


class LiveTraffic(ABC):
    """Per-deployment answer counts read back at once (``ws.live_traffic``; None where the
    backend cannot say: Azure ML's metrics arrive minutes late)."""

    @abstractmethod
    def counts(self, endpoint: str) -> dict[str, TrafficCounts] | None:
        """Answers each deployment behind ``endpoint`` gave to client requests (probes left out),
        cumulative since the endpoint's front started counting: compare two readings with
        ``TrafficCounts.since``. None when this endpoint's front is not running."""
