"""The values the ``Workspace`` seam speaks: data assets, jobs, models, events (and, from
:mod:`mlops_azure.records_serving`, endpoints and deployments).

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
    #: How far back each run reads the production data (``7d``, ``12h``: ``--window``).
    window: str = "7d"
    #: ``model.task`` and the training data's target column (``data.target``), so the target
    #: is never taken for a feature of the reference data.
    task: str = "regression"
    target: str | None = None


@dataclass(frozen=True)
class BatchScoringRun:
    """A finished batch endpoint job: its id, and the appended output downloaded locally."""

    job_id: str
    status: JobStatus
    output_file: Path | None
    error: str | None = None
