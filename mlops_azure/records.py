"""The values the ``Workspace`` seam speaks: data assets, jobs, models, endpoints, events.

Frozen dataclasses and enums only, named as Azure ML names them; ``mlops_azure.workspace``
re-exports them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

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
    #: Record each request and its predictions for drift monitoring (where the backend can).
    collect: bool = False


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
class TrafficCounts:
    """Answers one deployment gave to client requests (probes excluded), cumulative since the
    endpoint's front started counting at ``started_at``. ``latency_counts[i]`` counts answers
    that took at most ``latency_bounds_ms[i]`` ms (and more than the bound before); its one
    extra last entry counts slower ones."""

    requests: int = 0
    status_2xx: int = 0
    status_4xx: int = 0
    status_5xx: int = 0
    latency_bounds_ms: tuple[float, ...] = ()
    latency_counts: tuple[int, ...] = ()
    started_at: datetime | None = None

    @property
    def failed(self) -> int:
        """Answers that were server errors (the deployment's, or the front's 502/504 for it)."""
        return self.status_5xx

    def since(self, earlier: TrafficCounts) -> TrafficCounts:
        """The answers counted after ``earlier`` was read (all of these when counting restarted)."""
        if earlier.started_at != self.started_at or earlier.requests > self.requests:
            return self
        return TrafficCounts(
            self.requests - earlier.requests, self.status_2xx - earlier.status_2xx,
            self.status_4xx - earlier.status_4xx, self.status_5xx - earlier.status_5xx,
            self.latency_bounds_ms,
            tuple(a - b for a, b in zip(self.latency_counts, earlier.latency_counts, strict=True)),
            self.started_at)

    def p95_ms(self) -> float | None:
        """The 95th percentile latency, as the upper bound of the bucket holding it (``inf``:
        slower than the last bound); None without answers."""
        total = sum(self.latency_counts)
        if total == 0:
            return None
        seen = 0
        for i, count in enumerate(self.latency_counts):
            seen += count
            if seen >= 0.95 * total:
                return self.latency_bounds_ms[i] if i < len(self.latency_bounds_ms) else float("inf")
        return float("inf")


@dataclass(frozen=True)
class LockHolder:
    """Who holds a workspace lock, as they described themselves when they took it."""

    holder: str
    since: datetime | None = None


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


@dataclass(frozen=True)
class BlobInfo:
    """A blob as listed: its name, its etag (a new etag is a new blob) and when it last changed."""

    name: str
    etag: str
    last_modified: datetime
    size: int


@dataclass(frozen=True)
class DriftMonitor:
    """A drift check the workspace runs by itself on a schedule (Azure ML model monitoring):
    the deployment's recorded inputs and outputs against the model's training data."""

    name: str
    endpoint: str
    deployment: str
    trigger: ScheduleTrigger
    #: The data asset NAME:VERSION the monitored model was trained on.
    reference_data: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    #: mlops.yaml's thresholds: PSI, Jensen-Shannon, normalised Wasserstein (also for the
    #: predictions), and the p-values of the KS (numeric) and chi-squared (categorical) tests.
    psi: float
    js: float
    wasserstein: float
    ks_p: float
    chi2_p: float
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchDeploymentSpec:
    """A batch endpoint's deployment of one model version: the batch scoring script
    (``init()`` / ``run(mini_batch)``), its environment, and how the job splits and retries."""

    endpoint: str
    deployment: str
    model_name: str
    model_version: int
    code_dir: Path
    scoring_script: str
    environment: Path | None
    mini_batch_size: int = 1
    output_file_name: str = "predictions.csv"
    instance_count: int = 1
    max_concurrency_per_instance: int = 2
    max_retries: int = 3
    timeout_s: int = 300
    #: Files that may fail before the job fails (-1: any number).
    error_threshold: int = 0


@dataclass(frozen=True)
class BatchScoringRun:
    """A finished batch endpoint job: its id, and the appended output downloaded locally."""

    job_id: str
    status: JobStatus
    output_file: Path | None
    error: str | None = None
