"""The audit trail, typed: one frozen dataclass per action, written and read through here.

Every action the tool takes (deploy, promote, rollback, QA gate, approval, training and its
gates, registration, data upload, triggers, monitoring) is one event type below. ``ACTION`` is
the stored action string, ``subject`` the stored subject and every other field one key of the
stored JSON ``details``, under the names the trail has always used, so workspaces written by
older versions (and the Azure backend's blobs) read back unchanged.

Writing: ``record(ws, DeployEvent(subject=..., ...), actor=None)``.

Reading: ``read(ws, DeployEvent, limit, subject=...)`` gives ``Recorded(audit, event)`` pairs,
newest first (``audit`` is the stored :class:`AuditEvent`: id, time, actor); ``latest`` the
newest one a predicate accepts; ``read_all`` several types merged; ``parse`` any stored event
as its type. Reading is tolerant: unknown keys are ignored and missing optional keys take
their defaults. An event that still cannot be read as its type (a required key missing, a
value of the wrong type: written by hand, or by a future version) never fails a lookup: it is
skipped with a warning on the ``mlops_azure.audit`` logger and stays in the trail as it is
(``mlops history`` shows it untyped).

The actor rule, the same for every event (:func:`resolve_actor`): an explicit ``actor``
argument (``mlops approve --by``), else ``$MLOPS_ACTOR`` (also set by ``mlops --actor NAME``),
else the person who requested the CI run (``BUILD_REQUESTEDFOREMAIL``, ``BUILD_REQUESTEDFOR``,
``GITHUB_ACTOR``), else ``git config user.email``, else the OS user.

An approval and a QA gate record the responsible-ML policy in force (the ``responsible:``
section as read from ``mlops.yaml``) and its sha256 (:func:`policy_in_force`), so loosening the
policy to get a version through leaves a trace.
"""

from mlops_azure.audit_events._core import (
    ACTOR_VARIABLE,
    AuditRecord,
    EventUnreadable,
    Recorded,
    Summary,
    decode,
    event_types,
    latest,
    parse,
    policy_in_force,
    read,
    read_all,
    record,
    resolve_actor,
    summary_of,
    typed,
)
from mlops_azure.audit_events.release import (
    TRAFFIC_EVENTS,
    ApproveEvent,
    DeployEvent,
    EndpointDeleteEvent,
    PromoteEvent,
    QaCheck,
    QaGateEvent,
    RollbackEvent,
    TrafficEvent,
)
from mlops_azure.audit_events.traffic import OperationBegun, OperationEnded, TrafficChanged
from mlops_azure.audit_events.training import (
    ArchiveEvent,
    BatchScoredEvent,
    ChampionGateEvent,
    DataUploadEvent,
    DriftCheckEvent,
    MonitorRetargetEvent,
    MonitorSetupEvent,
    RegisterEvent,
    ResponsibleGateEvent,
    ScheduleCreateEvent,
    ScheduleDeleteEvent,
    ScheduleRepinEvent,
    ScheduleRunEvent,
    ScheduleSettleEvent,
    TrainEvent,
    WatchEvent,
)
from mlops_azure.audit_events.ui import UiScoredEvent

__all__ = [
    "ACTOR_VARIABLE",
    "TRAFFIC_EVENTS",
    "ApproveEvent",
    "ArchiveEvent",
    "AuditRecord",
    "BatchScoredEvent",
    "ChampionGateEvent",
    "DataUploadEvent",
    "DeployEvent",
    "DriftCheckEvent",
    "EndpointDeleteEvent",
    "EventUnreadable",
    "MonitorRetargetEvent",
    "MonitorSetupEvent",
    "OperationBegun",
    "OperationEnded",
    "PromoteEvent",
    "QaCheck",
    "QaGateEvent",
    "Recorded",
    "RegisterEvent",
    "ResponsibleGateEvent",
    "RollbackEvent",
    "ScheduleCreateEvent",
    "ScheduleDeleteEvent",
    "ScheduleRepinEvent",
    "ScheduleRunEvent",
    "ScheduleSettleEvent",
    "Summary",
    "TrafficChanged",
    "TrafficEvent",
    "TrainEvent",
    "UiScoredEvent",
    "WatchEvent",
    "decode",
    "event_types",
    "latest",
    "parse",
    "policy_in_force",
    "read",
    "read_all",
    "record",
    "resolve_actor",
    "summary_of",
    "typed",
]
