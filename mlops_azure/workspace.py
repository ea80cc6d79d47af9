"""The one seam between mlops and a backend: the ``Workspace`` interface and the values it speaks.

Everything that touches stored state (data assets, jobs, models, audit events) goes through a
``Workspace``. The embedded implementation lives in ``mlops_azure.local``; the Azure ML one in
``mlops_azure.azure``. ``mlops_azure.lifecycle`` only ever sees this interface, so a gate or a
promotion is written once and behaves the same on both. The same contract tests run against each.
"""

from __future__ import annotations

import enum
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

#: Azure ML asset names (models, data assets, environments); both backends enforce the same rule.
ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


def is_asset_name(name: object) -> bool:
    """Whether ``name`` is a valid Azure ML asset name."""
    return isinstance(name, str) and ASSET_NAME.fullmatch(name) is not None


#: Azure ML online endpoint and deployment names: 3-32 letters, digits and hyphens, from a letter.
ENDPOINT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]")


def is_endpoint_name(name: object) -> bool:
    """Whether ``name`` is a valid Azure ML online endpoint or deployment name."""
    return isinstance(name, str) and ENDPOINT_NAME.fullmatch(name) is not None


def check_endpoint_name(name: str, kind: str = "endpoint") -> None:
    """``UserInputError`` unless ``name`` is a valid endpoint (or deployment) name."""
    if not is_endpoint_name(name):
        from mlops_azure.errors import UserInputError

        raise UserInputError(f"{kind} name {name!r} is invalid: use 3-32 letters, digits and "
                             "hyphens, starting with a letter and not ending with a hyphen")


#: Most mirror traffic an endpoint may copy to a shadow deployment (%), as on Azure ML.
MAX_MIRROR = 50

#: A pipeline input value: a literal, or a local path for ``uri_file`` / ``uri_folder`` inputs.
InputValue = str | int | float | bool | Path


class JobStatus(enum.StrEnum):
    """Job and step states, named as Azure ML names them."""

    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    SKIPPED = "Skipped"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.SKIPPED)


@dataclass(frozen=True)
class DataAsset:
    """One version of a named data asset; ``sha256`` is the content hash of the file or folder."""

    name: str
    version: int
    path: str
    sha256: str
    size_bytes: int
    created_at: datetime
    description: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class StepRun:
    """One step (child job) of a pipeline job."""

    name: str
    status: JobStatus
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Job:
    """A pipeline job: its inputs, its steps, where its outputs are and how it ended."""

    id: str
    experiment: str
    status: JobStatus
    created_at: datetime
    pipeline: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    steps: tuple[StepRun, ...] = ()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lineage:
    """Where a model version comes from: enough to trace a deployment back to its data."""

    data_asset: str
    data_version: int
    data_sha256: str
    code_commit: str
    job_id: str
    params: Mapping[str, Any]
    environment_hash: str
    creator: str
    pipeline: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "data_asset": self.data_asset,
            "data_version": self.data_version,
            "data_sha256": self.data_sha256,
            "code_commit": self.code_commit,
            "job_id": self.job_id,
            "params": dict(self.params),
            "environment_hash": self.environment_hash,
            "creator": self.creator,
            "pipeline": self.pipeline,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Lineage:
        return cls(
            data_asset=str(raw["data_asset"]),
            data_version=int(raw["data_version"]),
            data_sha256=str(raw["data_sha256"]),
            code_commit=str(raw["code_commit"]),
            job_id=str(raw["job_id"]),
            params=dict(raw.get("params", {})),
            environment_hash=str(raw["environment_hash"]),
            creator=str(raw["creator"]),
            pipeline=str(raw.get("pipeline", "")),
            extra={str(k): str(v) for k, v in dict(raw.get("extra", {})).items()},
        )


@dataclass(frozen=True)
class ModelVersion:
    """A registered model version with its holdout metrics and lineage."""

    name: str
    version: int
    path: str
    sha256: str
    created_at: datetime
    metrics: Mapping[str, float]
    lineage: Lineage
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class ServingDeployment:
    """A deployment behind an endpoint, the model version it serves and its traffic share (%)."""

    endpoint: str
    deployment: str
    model_name: str
    model_version: int
    traffic: int


class DeploymentState(enum.StrEnum):
    """Provisioning and health of a deployment, named as Azure ML names provisioning states.

    ``Unhealthy`` is a deployment that was provisioned but no longer answers (a crashed local
    process, an Azure deployment whose instances fail their probes): reported, never hidden.
    """

    CREATING = "Creating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNHEALTHY = "Unhealthy"
    DELETING = "Deleting"


@dataclass(frozen=True)
class DeploymentSpec:
    """What a deployment runs: a model version, the scoring code and its environment, on what.

    ``code_dir`` is the folder deployed as the scoring code and ``scoring_script`` the entry
    script relative to it (Azure ML's ``CodeConfiguration``). ``instance_count`` instances serve
    it (locally: that many server worker processes).
    """

    model_name: str
    model_version: int
    code_dir: Path
    scoring_script: str
    environment: Path | None = None
    instance_type: str | None = None
    instance_count: int = 1
    request_timeout_ms: int = 5000
    environment_variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    """An online endpoint: one stable scoring URL, key auth, and traffic over its deployments.

    ``traffic`` maps deployment names to the share of live requests (%, summing to 100 when
    any is set); ``mirror_traffic`` to the share of requests copied to a deployment whose
    answers are discarded (shadow testing).
    """

    name: str
    scoring_uri: str
    kind: str
    state: str
    traffic: Mapping[str, int]
    mirror_traffic: Mapping[str, int]
    created_at: datetime
    auth_mode: str = "key"
    error: str = ""


@dataclass(frozen=True)
class Deployment:
    """A model version served behind an endpoint."""

    endpoint: str
    name: str
    model_name: str
    model_version: int
    state: DeploymentState
    created_at: datetime
    instance_type: str | None = None
    instance_count: int = 1
    error: str = ""

    @property
    def model_ref(self) -> str:
        return f"{self.model_name}:{self.model_version}"


@dataclass(frozen=True)
class EndpointKeys:
    """The two auth keys of an endpoint (either is accepted; rotate one while using the other)."""

    primary: str
    secondary: str

    def __repr__(self) -> str:  # keys never end up in logs or tracebacks by accident
        return "EndpointKeys(primary='***', secondary='***')"


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the audit trail: who did what to which subject, and the evidence."""

    id: int
    time: datetime
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineSubmission:
    """What to run: a pipeline definition file and values for its inputs."""

    pipeline_file: Path
    inputs: Mapping[str, InputValue]
    experiment: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobEvent:
    """Progress of a running job, for progress bars and logs."""

    job_id: str
    step: str | None
    status: JobStatus
    message: str = ""


ProgressCallback = Callable[[JobEvent], None]


@dataclass(frozen=True)
class ScheduleTrigger:
    """When a schedule fires: a five-field ``cron`` expression, or every ``interval`` ``frequency``
    (``minute``, ``hour``, ``day``, ``week`` or ``month``), in ``time_zone``."""

    cron: str | None = None
    frequency: str | None = None
    interval: int = 1
    time_zone: str = "UTC"

    def describe(self) -> str:
        if self.cron:
            return f"cron '{self.cron}' ({self.time_zone})"
        unit = self.frequency if self.interval == 1 else f"{self.interval} {self.frequency}s"
        return f"every {unit} ({self.time_zone})"


@dataclass(frozen=True)
class Schedule:
    """A recurring run of a pipeline (Azure ML ``JobSchedule``)."""

    name: str
    trigger: ScheduleTrigger
    pipeline: str
    experiment: str
    enabled: bool
    created_at: datetime
    inputs: Mapping[str, Any] = field(default_factory=dict)


def check_traffic(endpoint: str, states: Mapping[str, str], traffic: Mapping[str, int],
                  mirror: Mapping[str, int]) -> None:
    """Azure ML's traffic rules, checked before anything changes (``states``: deployment name to
    provisioning state). Raises ``UserInputError`` naming the first rule broken."""
    from mlops_azure.errors import UserInputError

    rows = states
    where = f"traffic of endpoint '{endpoint}'"
    for kind, shares in (("traffic", traffic), ("mirror traffic", mirror)):
        for dep, share in shares.items():
            if dep not in rows:
                known = ", ".join(sorted(rows)) or "none"
                raise UserInputError(f"{where}: no deployment '{dep}' (deployments: {known})")
            if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= 100:
                raise UserInputError(f"{where}: {kind} of '{dep}' must be a whole number 0-100, "
                                     f"not {share!r}")
    total = sum(traffic.values())
    if rows and total not in (0, 100):
        raise UserInputError(f"{where}: shares add up to {total} %, not 100 %")
    for dep, share in traffic.items():
        if share > 0 and rows[dep] != "Succeeded":
            raise UserInputError(f"{where}: deployment '{dep}' is {rows[dep]}, it cannot "
                                 "take traffic")
    live_mirrors = {d: s for d, s in mirror.items() if s > 0}
    if len(live_mirrors) > 1:
        raise UserInputError(f"{where}: mirror traffic can go to one deployment only")
    for dep, share in live_mirrors.items():
        if share > MAX_MIRROR:
            raise UserInputError(f"{where}: mirror traffic is at most {MAX_MIRROR} %, not {share} %")
        if traffic.get(dep, 0) > 0:
            raise UserInputError(f"{where}: '{dep}' takes live traffic, so it cannot also be mirrored to")


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
    def upload_data(self, name: str, path: Path, *, description: str = "") -> DataAsset:
        """Store ``path`` (file or folder) as the next version of data asset ``name``.

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
    "DataAsset",
    "Deployment",
    "DeploymentSpec",
    "DeploymentState",
    "Endpoint",
    "EndpointKeys",
    "InputValue",
    "Job",
    "JobEvent",
    "JobStatus",
    "Lineage",
    "ModelVersion",
    "PipelineSubmission",
    "ProgressCallback",
    "Schedule",
    "ScheduleTrigger",
    "ServingDeployment",
    "StepRun",
    "Workspace",
    "check_endpoint_name",
    "check_traffic",
    "is_asset_name",
    "is_endpoint_name",
]
