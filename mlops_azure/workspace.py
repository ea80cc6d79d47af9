"""The one seam between mlops and a backend: the ``Workspace`` interface.

Everything that touches stored state (data assets, jobs, models, endpoints, schedules, audit
events) goes through a ``Workspace``. The embedded implementation lives in ``mlops_azure.local``;
the Azure ML one in ``mlops_azure.azure``. ``mlops_azure.lifecycle`` only ever sees this
interface, so a gate or a promotion is written once and behaves the same on both; the same
contract tests run against each. The values it speaks live in ``records`` and the rules both
backends enforce in ``rules``; both are re-exported here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from mlops_azure.errors import UserInputError
from mlops_azure.records import (
    AuditEvent,
    BatchScoringRun,
    DataAsset,
    DriftMonitor,
    InputValue,
    Job,
    JobEvent,
    JobStatus,
    Lineage,
    LockHolder,
    ModelVersion,
    PipelineSubmission,
    ProgressCallback,
    Schedule,
    ScheduleTrigger,
    StepRun,
)
from mlops_azure.records_serving import (
    BatchDeploymentSpec,
    Deployment,
    DeploymentSpec,
    DeploymentState,
    Endpoint,
    EndpointKeys,
    ServingDeployment,
    TrafficCounts,
)
from mlops_azure.rules import (
    ASSET_NAME,
    ENDPOINT_NAME,
    MAX_MIRROR,
    check_endpoint_name,
    check_traffic,
    is_asset_name,
    is_endpoint_name,
)


class Workspace(ABC):
    """Stored state of one project on one backend. One method per operation.

    Implementations raise ``NotFoundError`` for unknown names, ``UserInputError`` for malformed
    arguments and ``BackendError`` when the backend itself fails. Writes are atomic: an
    interrupted call leaves either the whole record or nothing.
    """

    #: ``"local"`` or ``"azure"``.
    backend: str

    # -- data assets ---------------------------------------------------------------------------
    @abstractmethod
    def upload_data(self, name: str, path: Path, *, description: str = "",
                    actor: str | None = None) -> DataAsset:
        """Store ``path`` (file or folder) as the next version of data asset ``name``, recorded
        for ``actor`` (the audit trail's actor rule decides when None).

        Uploading content identical to the latest version returns that version unchanged.
        """

    @abstractmethod
    def get_data(self, name: str, version: int | None = None) -> DataAsset:
        """One version of a data asset; the latest when ``version`` is None."""

    @abstractmethod
    def list_data(self, name: str | None = None) -> list[DataAsset]:
        """Data asset versions, newest first."""

    @abstractmethod
    def data_local_path(self, asset: DataAsset) -> Path:
        """A local file or folder holding the asset's content (downloaded when remote)."""

    # -- jobs ------------------------------------------------------------------------------------
    @abstractmethod
    def run_pipeline(
        self, submission: PipelineSubmission, progress: ProgressCallback | None = None
    ) -> Job:
        """Submit a pipeline job and wait until it ends; returns the finished job.

        A failed job is returned (status ``Failed``, ``error`` set), not raised.
        """

    def submit_pipeline(self, submission: PipelineSubmission) -> Job:
        """Submit a pipeline job and return without waiting for it (``wait_for_job`` follows it).

        A backend without a job service (the embedded one) runs it to the end here.
        """
        return self.run_pipeline(submission)

    def wait_for_job(
        self, job_id: str, progress: ProgressCallback | None = None, timeout_s: float | None = None
    ) -> Job:
        """Wait until a job ends, or ``timeout_s`` passes; returns the job as it is then."""
        import time

        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            job = self.get_job(job_id)
            if job.status.is_terminal or (deadline is not None and time.monotonic() >= deadline):
                return job
            time.sleep(2.0)

    @abstractmethod
    def get_job(self, job_id: str) -> Job:
        """One job with its steps."""

    @abstractmethod
    def list_jobs(self, limit: int = 20) -> list[Job]:
        """Jobs, newest first."""

    @abstractmethod
    def job_logs(self, job_id: str, step: str | None = None) -> str:
        """The captured output of one step, or of every step in order when ``step`` is None."""

    @abstractmethod
    def job_output_path(self, job_id: str, output: str) -> Path:
        """A local folder holding a pipeline output of a finished job (downloaded when remote)."""

    # -- models ----------------------------------------------------------------------------------
    @abstractmethod
    def register_model(
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
    def get_model(self, name: str, version: int | None = None) -> ModelVersion:
        """One model version; the latest when ``version`` is None."""

    @abstractmethod
    def list_models(self, name: str | None = None) -> list[ModelVersion]:
        """Model versions, newest first."""

    @abstractmethod
    def archive_model(self, name: str, version: int, *, actor: str) -> None:
        """Hide a model version from ``list_models`` and from "latest" (``get_model`` without a
        version); it stays readable by version and keeps serving where it is deployed. Version
        numbers are never reused."""

    @abstractmethod
    def put_model_document(self, name: str, version: int, filename: str, content: bytes) -> None:
        """Store a document about a model version beside it (its model card, say), replacing
        one of the same ``filename``. The model's own artifacts stay untouched, so its content
        hash still holds."""

    @abstractmethod
    def get_model_document(self, name: str, version: int, filename: str) -> bytes:
        """A document stored with :meth:`put_model_document`; ``NotFoundError`` when absent."""

    @abstractmethod
    def model_local_path(self, name: str, version: int) -> Path:
        """A local folder holding the model version's files, verified against its hash."""

    # -- serving ---------------------------------------------------------------------------------
    @abstractmethod
    def create_endpoint(self, name: str, *, kind: str = "local", description: str = "",
                        compute: str | None = None) -> Endpoint:
        """Create the online endpoint ``name`` (no deployments, no traffic), or return it when it
        exists; a stopped local endpoint is started again on its old URL. ``compute`` is the
        attached Kubernetes compute of a ``kubernetes`` endpoint."""

    @abstractmethod
    def get_endpoint(self, name: str) -> Endpoint:
        """One endpoint with its traffic; ``NotFoundError`` when it does not exist."""

    @abstractmethod
    def list_endpoints(self) -> list[Endpoint]:
        """All endpoints, by name."""

    @abstractmethod
    def delete_endpoint(self, name: str) -> None:
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
    def endpoint_keys(self, endpoint: str) -> EndpointKeys:
        """The endpoint's auth keys; callers must not print them unless the user asked."""

    @abstractmethod
    def deployment_logs(self, endpoint: str, name: str, lines: int = 100) -> str:
        """The last ``lines`` lines of a deployment's server log."""

    def collected_data_dir(self, endpoint: str, since_s: float | None = None) -> Path | None:
        """A local folder holding the requests and predictions the endpoint's deployments
        recorded (``DeploymentSpec.collect``), at least those of the last ``since_s`` seconds
        (all when None), one JSON line per request; None where the backend cannot read them."""
        return None

    def live_traffic(self, endpoint: str) -> dict[str, TrafficCounts] | None:
        """Answers each deployment behind ``endpoint`` gave to client requests (probes left out),
        cumulative since the endpoint's front started counting: compare two readings with
        ``TrafficCounts.since``. None where the backend cannot say: Azure ML exposes no such
        per-request counts to read back at once (its metrics arrive minutes late), and a local
        endpoint whose router is not running has none."""
        return None

    def endpoint_traffic(self, endpoint: str) -> list[ServingDeployment]:
        """The deployments behind an endpoint with their traffic, most traffic first; empty when
        the endpoint does not exist."""
        from mlops_azure.errors import NotFoundError

        try:
            found = self.get_endpoint(endpoint)
            deployments = self.list_deployments(endpoint)
        except NotFoundError:
            return []
        rows = [ServingDeployment(endpoint, d.name, d.model_name, d.model_version,
                                  int(found.traffic.get(d.name, 0))) for d in deployments]
        return sorted(rows, key=lambda d: (-d.traffic, d.deployment))

    def data_input(self, asset: DataAsset) -> InputValue:
        """How a pipeline submission refers to a data asset: a local path here, an ``azureml:``
        reference on Azure ML (so the job reads it where it is instead of re-uploading it)."""
        return self.data_local_path(asset)

    def model_input(self, model: ModelVersion) -> InputValue:
        """How a pipeline submission refers to a registered model's folder (see ``data_input``)."""
        return self.model_local_path(model.name, model.version)

    def ensure_infrastructure(self) -> list[str]:
        """Create what jobs and deployments run on (compute, environments) where missing; one
        line per resource. The embedded workspace runs everything in this Python environment."""
        return [f"{self.backend} workspace: steps and deployments run in this Python "
                "environment, nothing to create"]

    def score_with_batch_endpoint(
        self, spec: BatchDeploymentSpec, data: DataAsset, *, job_name: str,
        progress: ProgressCallback | None = None,
    ) -> BatchScoringRun:
        """Create or update batch endpoint ``spec.endpoint`` and its deployment of the model,
        invoke it with ``data`` as job ``job_name`` (an existing job of that name is followed
        instead of submitting again), wait for the job and download its appended output.
        ``UserInputError`` where the backend has no batch endpoints (the embedded workspace
        scores batches itself: ``mlops score batch`` without an endpoint)."""
        raise UserInputError(f"the {self.backend} workspace has no batch endpoints: "
                             "mlops score batch scores here instead")

    # -- schedules -------------------------------------------------------------------------------
    @abstractmethod
    def create_schedule(
        self, name: str, submission: PipelineSubmission, trigger: ScheduleTrigger
    ) -> Schedule:
        """Create or replace schedule ``name`` that submits ``submission`` on ``trigger``."""

    @abstractmethod
    def list_schedules(self) -> list[Schedule]:
        """All schedules, by name."""

    @abstractmethod
    def delete_schedule(self, name: str) -> None:
        """Delete a schedule; ``NotFoundError`` when it does not exist."""

    # -- coordination ----------------------------------------------------------------------------
    @abstractmethod
    def exclusive(self, name: str, holder: str = "") -> AbstractContextManager[bool]:
        """Hold the workspace-wide lock ``name`` while the block runs. Yields False at once,
        without waiting, when another holder has it (say, a second data watcher), so the caller
        can stand aside. A holder that dies releases it (local: the OS; Azure: a blob lease
        that is renewed while held and expires a minute after its holder stops renewing).
        ``holder`` describes the taker (command, actor, process) for :meth:`lock_holder`."""

    @abstractmethod
    def lock_holder(self, name: str) -> LockHolder | None:
        """Who holds lock ``name`` now and since when; None when nobody does."""

    # -- monitoring ------------------------------------------------------------------------------
    def create_drift_monitor(self, monitor: DriftMonitor) -> None:
        """Create or replace a monitor the workspace runs by itself; ``UserInputError`` where
        the backend has no monitoring service (the embedded workspace runs ``mlops monitor
        drift`` from cron instead)."""
        raise UserInputError(f"the {self.backend} workspace has no monitoring service")

    def get_drift_monitor(self, name: str) -> DriftMonitor | None:
        """Monitor ``name`` as it was created, or None (none there, or no monitoring service)."""
        return None

    # -- audit -----------------------------------------------------------------------------------
    @abstractmethod
    def record_event(
        self, action: str, subject: str, details: Mapping[str, Any], *, actor: str
    ) -> AuditEvent:
        """Append an event to the audit trail."""

    @abstractmethod
    def list_events(
        self, limit: int = 50, *, action: str | None = None, subject: str | None = None
    ) -> list[AuditEvent]:
        """Audit events, newest first; only those with that ``action`` / ``subject`` when given."""


__all__ = [
    "ASSET_NAME",
    "ENDPOINT_NAME",
    "MAX_MIRROR",
    "AuditEvent",
    "BatchDeploymentSpec",
    "BatchScoringRun",
    "DataAsset",
    "Deployment",
    "DeploymentSpec",
    "DeploymentState",
    "DriftMonitor",
    "Endpoint",
    "EndpointKeys",
    "InputValue",
    "Job",
    "JobEvent",
    "JobStatus",
    "Lineage",
    "LockHolder",
    "ModelVersion",
    "PipelineSubmission",
    "ProgressCallback",
    "Schedule",
    "ScheduleTrigger",
    "ServingDeployment",
    "StepRun",
    "TrafficCounts",
    "Workspace",
    "check_endpoint_name",
    "check_traffic",
    "is_asset_name",
    "is_endpoint_name",
]
