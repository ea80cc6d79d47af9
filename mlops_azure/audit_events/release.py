"""Events of the release half: traffic changes, QA gate, approval, endpoint deletion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_azure.audit_events._core import AuditRecord, Summary


@dataclass(frozen=True, kw_only=True)
class TrafficEvent(AuditRecord):
    """What deploy, promote and rollback share; ``subject`` is the model version (``NAME:VERSION``).

    ``deployment`` is the one the event is about, ``previous`` the one that served before it
    (kept at 0 % for ``mlops rollback``), ``traffic`` the endpoint's table afterwards.
    """

    stage: str
    endpoint: str
    #: ``succeeded``, ``failed``, ``refused`` or ``rolled back``.
    outcome: str
    deployment: str | None = None
    previous: str | None = None
    traffic: Mapping[str, int] = field(default_factory=dict)

    @property
    def moved_traffic_on_purpose(self) -> bool:
        """A succeeded change a person asked for (an automatic rollback only undid a failed
        promotion, so ``mlops rollback`` looks past it)."""
        return self.outcome == "succeeded"


@dataclass(frozen=True, kw_only=True)
class DeployEvent(TrafficEvent):
    """``mlops deploy``: all traffic at once, or a deployment that failed to start."""

    ACTION = "deploy"

    error: str | None = None
    #: The tail of the failed deployment's log.
    logs: str | None = None


@dataclass(frozen=True, kw_only=True)
class PromoteEvent(TrafficEvent):
    """``mlops promote``: a canary rollout that succeeded, was refused or rolled back."""

    ACTION = "promote"

    reason: str | None = None
    #: One ``rollout.ProbeResult`` (as a dict) per step, warm-up first.
    steps: tuple[Mapping[str, Any], ...] = ()
    #: The id of the approval event it went out on.
    approval: int | None = None


@dataclass(frozen=True, kw_only=True)
class RollbackEvent(TrafficEvent):
    """Traffic sent back: by ``mlops rollback`` (``manual``) or by a failed promotion
    (``automatic``)."""

    ACTION = "rollback"

    #: ``manual`` or ``automatic``.
    trigger: str
    reason: str | None = None
    removed: tuple[str, ...] = ()

    @property
    def moved_traffic_on_purpose(self) -> bool:
        return self.outcome == "succeeded" and self.trigger != "automatic"


#: The events that move a stage's traffic, each with ``deployment`` and ``previous``.
TRAFFIC_EVENTS: tuple[type[TrafficEvent], ...] = (DeployEvent, PromoteEvent, RollbackEvent)


@dataclass(frozen=True, kw_only=True)
class QaCheck:
    """One check of a QA gate report."""

    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class QaGateEvent(AuditRecord):
    """``mlops gate qa``: the report approvals take as evidence; ``subject`` is the model version."""

    ACTION = "gate.qa"

    stage: str
    passed: bool
    endpoint: str | None = None
    deployment: str | None = None
    #: The names of the failed checks.
    failed: tuple[str, ...] = ()
    checks: tuple[QaCheck, ...] = ()
    #: The ``responsible:`` section in force and its hash (see ``policy_in_force``); None in
    #: events recorded before policies were.
    policy: Mapping[str, Any] | None = None
    policy_sha256: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApproveEvent(AuditRecord):
    """``mlops approve``: who (the event's actor) let which version into which stage, and why."""

    ACTION = "approve"

    stage: str
    reason: str = ""
    #: ``qa_event``/``qa_stage``/``qa_time``, ``responsible`` (the verdict), ``devops_run`` and
    #: ``devops_approvals`` (who approved the Environment check, when, with what comment).
    evidence: Mapping[str, Any] = field(default_factory=dict)
    #: The ``responsible:`` section in force at approval and its hash: loosening ``mlops.yaml``
    #: to get an approval through shows as a new hash. None in events recorded before.
    policy: Mapping[str, Any] | None = None
    policy_sha256: str | None = None

    def summary(self) -> Summary:
        found = super().summary()
        if self.policy_sha256 is None:
            return found
        return found._replace(note=f"{found.note} (policy {self.policy_sha256[:12]})")


@dataclass(frozen=True, kw_only=True)
class EndpointDeleteEvent(AuditRecord):
    """``mlops endpoints delete``; ``subject`` is the endpoint."""

    ACTION = "endpoint.delete"

    endpoint: str
    #: The traffic table it had.
    traffic: Mapping[str, int] = field(default_factory=dict)
