"""Events of the training half: data, training and its gates, registry, triggers, monitoring."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlops_azure.audit_events._core import AuditRecord


@dataclass(frozen=True, kw_only=True)
class DataUploadEvent(AuditRecord):
    """A new data asset version (``subject``: ``NAME:VERSION``)."""

    ACTION = "data.upload"

    #: The uploaded file or folder, absolute.
    source: str
    sha256: str
    size_bytes: int = 0


@dataclass(frozen=True, kw_only=True)
class TrainEvent(AuditRecord):
    """A training job that did not complete (``subject``: the job id)."""

    ACTION = "train"

    status: str
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChampionGateEvent(AuditRecord):
    """The champion gate's decision on a finished job (``subject``: the job id)."""

    ACTION = "gate.champion"

    #: ``first``, ``better`` or ``not_better``.
    verdict: str
    metric: str
    direction: str
    candidate: float | None = None
    abs_improvement: float | None = None
    rel_improvement: float | None = None
    reason: str = ""
    #: Partitioned models: how many partitions improved, stayed, regressed, failed, were new.
    partitions: Mapping[str, int] | None = None
    register: bool = False
    #: The champion's ``NAME:VERSION`` (None without one; its metric is in ``reason``).
    champion: str | None = None
    #: Where the champion came from (serving in production, or the latest registered).
    champion_source: str | None = None
    #: The data asset version trained on.
    data: str | None = None


@dataclass(frozen=True, kw_only=True)
class ResponsibleGateEvent(AuditRecord):
    """The responsible-ML verdict on a job's candidate (``subject``: the job id)."""

    ACTION = "gate.responsible"

    #: ``pass``, ``warn`` or ``block``.
    status: str
    #: ``registration`` or ``promotion``.
    at: str = "registration"
    findings: tuple[Mapping[str, Any], ...] = ()
    policy: Mapping[str, Any] | None = None
    data: str | None = None


@dataclass(frozen=True, kw_only=True)
class RegisterEvent(AuditRecord):
    """A new model version (``subject``: ``NAME:VERSION``); its actor is the lineage's creator."""

    ACTION = "register"

    job_id: str
    sha256: str
    #: The job output registered (absent in events of the Azure backend, which registers
    #: ``model``).
    output: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ArchiveEvent(AuditRecord):
    """A model version hidden from listings and "latest" (``subject``: ``NAME:VERSION``)."""

    ACTION = "archive"


@dataclass(frozen=True, kw_only=True)
class ScheduleCreateEvent(AuditRecord):
    """``mlops schedule create`` (``subject``: the schedule)."""

    ACTION = "schedule.create"

    #: The trigger in words (``ScheduleTrigger.describe``).
    trigger: str
    data: str | None = None
    pipeline: str | None = None


@dataclass(frozen=True, kw_only=True)
class ScheduleDeleteEvent(AuditRecord):
    """``mlops schedule delete`` (``subject``: the schedule)."""

    ACTION = "schedule.delete"


@dataclass(frozen=True, kw_only=True)
class ScheduleRunEvent(AuditRecord):
    """One run of a due schedule by ``mlops schedule run-due`` (``subject``: the schedule);
    ``due`` is the firing it answered, the cursor of the next run-due."""

    ACTION = "schedule.run"

    schedule: str
    due: datetime
    job_id: str | None = None
    data: str | None = None
    registered: str | None = None
    verdict: str | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class WatchEvent(AuditRecord):
    """One blob seen by ``mlops watch data`` (``subject`` and ``blob``: ``CONTAINER/NAME@ETAG``).

    ``phase`` ``submitted`` records the training job in ``job`` before waiting for it; ``done``
    and ``failed`` record it in ``job_id`` with what came of it (both key names as written
    since the first version, so older cursors read back).
    """

    ACTION = "watch.data"

    blob: str
    #: ``submitted``, ``done`` or ``failed``.
    phase: str
    last_modified: str | None = None
    size: int | None = None
    job: str | None = None
    job_id: str | None = None
    data: str | None = None
    registered: str | None = None
    verdict: str | None = None
    error: str | None = None

    @property
    def submitted_job(self) -> str | None:
        """The job to resume: recorded before the pass that submitted it ended."""
        return self.job if self.phase == "submitted" else None


@dataclass(frozen=True, kw_only=True)
class DriftCheckEvent(AuditRecord):
    """``mlops monitor drift``: a window of production inputs against the training data
    (``subject``: the model version)."""

    ACTION = "monitor.drift"

    drifted: bool
    #: None when a model version was checked without a stage.
    stage: str | None = None
    reference: str | None = None
    #: The window compared, in words.
    current: str | None = None
    rules: tuple[str, ...] = ()
    verdict: str = ""
    drifted_share: float | None = None
    critical_features: tuple[str, ...] = ()
    drifted_features: tuple[str, ...] = ()
    prediction_drifted: bool | None = None
    #: Per feature: ``psi`` and ``js``.
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class MonitorSetupEvent(AuditRecord):
    """``mlops monitor setup`` on Azure (``subject``: the monitor)."""

    ACTION = "monitor.setup"

    stage: str
    deployment: str
    model: str
    reference_data: str
    #: The trigger in words.
    when: str


@dataclass(frozen=True, kw_only=True)
class MonitorRetargetEvent(AuditRecord):
    """A monitor moved to the deployment now serving, after production traffic moved
    (``subject``: the monitor)."""

    ACTION = "monitor.retarget"

    endpoint: str
    previous: str
    deployment: str
    model: str
    reference_data: str


@dataclass(frozen=True, kw_only=True)
class ScheduleSettleEvent(AuditRecord):
    """A job fired by a schedule on the workspace, judged and registered by ``mlops schedule
    settle`` (``subject``: the job; recorded once, so a second pass leaves it alone)."""

    ACTION = "schedule.settle"

    schedule: str
    registered: str | None = None
    verdict: str | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ScheduleRepinEvent(AuditRecord):
    """A schedule re-created with the newest data and the current champion, on a workspace
    that pins them when the schedule is made (``subject``: the schedule)."""

    ACTION = "schedule.repin"

    data: str
    champion: str | None = None
    reason: str


@dataclass(frozen=True, kw_only=True)
class BatchScoredEvent(AuditRecord):
    """A batch scoring job on a batch endpoint (``subject``: the endpoint)."""

    ACTION = "batch_scored"

    job_id: str
    status: str
    model: str
    input: str
    run_id: str
