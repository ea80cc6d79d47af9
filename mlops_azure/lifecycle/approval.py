"""Approvals: production cannot be reached without a record of who approved what, when, why,
and on which evidence.

Evidence is the version's latest passing QA gate report (a ``gate.qa`` audit event) and, for a
stage that requires approval, the responsible-ML verdict on the report stored with the version
(a violation of the policy blocks the approval). Every approval also records the
responsible-ML policy in force and its hash, so loosening ``mlops.yaml`` to let a version
through leaves a trace. In Azure
DevOps the approval may come from an Environment approval instead of a person running
``mlops approve``: then the pipeline run that passed the Environment's checks is the evidence.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlops_azure.audit_events import (
    ApproveEvent,
    QaCheck,
    QaGateEvent,
    Recorded,
    latest,
    policy_in_force,
    record,
)
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import GateFailed, UserInputError
from mlops_azure.lifecycle.refs import resolve_model
from mlops_azure.lifecycle.responsible import check_promotion
from mlops_azure.workspace import AuditEvent, ModelVersion, Workspace

if TYPE_CHECKING:
    from mlops_azure.lifecycle.qa import QaReport

APPROVE = ApproveEvent.ACTION
QA_GATE = QaGateEvent.ACTION


@dataclass(frozen=True)
class Approval:
    """A recorded approval of one model version for one stage."""

    model: str
    stage: str
    by: str
    reason: str
    time: datetime
    evidence: dict[str, Any]
    event_id: int
    #: The responsible-ML policy in force when it was given (``responsible:`` of mlops.yaml)
    #: and its sha256; None for approvals recorded before policies were.
    policy: Mapping[str, Any] | None = None
    policy_sha256: str | None = None

    @classmethod
    def from_event(cls, found: Recorded[ApproveEvent]) -> Approval:
        event = found.event
        return cls(model=event.subject, stage=event.stage, by=found.audit.actor,
                   reason=event.reason, time=found.audit.time, evidence=dict(event.evidence),
                   event_id=found.audit.id, policy=event.policy, policy_sha256=event.policy_sha256)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "stage": self.stage, "by": self.by, "reason": self.reason,
                "time": self.time.isoformat(), "evidence": self.evidence, "event_id": self.event_id,
                "policy": None if self.policy is None else dict(self.policy),
                "policy_sha256": self.policy_sha256}


def latest_qa_report(ws: Workspace, model: ModelVersion) -> Recorded[QaGateEvent] | None:
    """The newest ``gate.qa`` event of ``model``, passed or not."""
    return latest(ws, QaGateEvent, subject=model.ref, limit=1)


def record_qa(ws: Workspace, report: QaReport, *, actor: str | None = None,
              config: ProjectConfig | None = None) -> AuditEvent:
    """Put a QA gate report in the audit trail, where approvals find it as evidence; with
    ``config``, with the responsible-ML policy in force beside it."""
    policy, digest = policy_in_force(config.responsible) if config is not None else (None, None)
    return record(ws, QaGateEvent(
        subject=report.model, stage=report.stage, endpoint=report.endpoint,
        deployment=report.deployment, passed=report.passed, failed=tuple(c.name for c in report.failed),
        checks=tuple(QaCheck(name=c.name, passed=c.passed, detail=c.detail) for c in report.checks),
        policy=policy, policy_sha256=digest), actor=actor)


def devops_run() -> dict[str, str] | None:
    """The Azure DevOps run this process belongs to (None outside a pipeline)."""
    if os.environ.get("TF_BUILD", "").lower() != "true" or not os.environ.get("BUILD_BUILDID"):
        return None
    names = {
        "run_id": "BUILD_BUILDID", "run_number": "BUILD_BUILDNUMBER",
        "pipeline": "BUILD_DEFINITIONNAME", "project": "SYSTEM_TEAMPROJECT",
        "collection": "SYSTEM_COLLECTIONURI", "environment": "ENVIRONMENT_NAME",
        "stage": "SYSTEM_STAGENAME", "requested_for": "BUILD_REQUESTEDFOR",
    }
    run = {key: os.environ[var] for key, var in names.items() if os.environ.get(var)}
    if "collection" in run and "project" in run:
        run["url"] = (f"{run['collection'].rstrip('/')}/{run['project']}/_build/results"
                      f"?buildId={run['run_id']}")
    return run


def approve(ws: Workspace, config: ProjectConfig, ref: str, stage: str, *, reason: str | None,
            by: str | None = None, devops_environment: bool = False) -> Approval:
    """Record an approval of ``ref`` for ``stage``.

    Refused (``GateFailed``) unless the version's latest QA gate report passed. With
    ``devops_environment`` the approval is the Azure DevOps Environment approval of the current
    run: it must run inside a pipeline; the approver (read back from Azure DevOps, see
    ``devops_approval``) is the actor, and the run and approval are recorded as evidence.
    """
    config.stage(stage)
    model = resolve_model(ws, ref)
    report = latest_qa_report(ws, model)
    if report is None:
        raise GateFailed(f"{model.ref} has no QA gate report: run 'mlops gate qa --model {model.ref}' "
                         "against a stage where it is deployed before approving it")
    if not report.event.passed:
        failed = ", ".join(report.event.failed) or "some checks"
        raise GateFailed(f"{model.ref}'s latest QA gate report (event {report.audit.id}) failed "
                         f"{failed}: it cannot be approved")
    evidence: dict[str, Any] = {"qa_event": report.audit.id, "qa_stage": report.event.stage,
                                "qa_time": report.audit.time.isoformat()}
    if config.stage(stage).requires_approval:
        # Production: the responsible-ML policy blocks here (GateFailed naming group and number)
        # and its verdict becomes part of the evidence.
        responsible = check_promotion(ws, config, model)
        if responsible is not None:
            evidence["responsible"] = responsible
    if devops_environment:
        run = devops_run()
        if run is None:
            raise UserInputError("--devops-environment records an Azure DevOps Environment approval, "
                                 "so it must run inside a pipeline (TF_BUILD and BUILD_BUILDID unset)")
        evidence["devops_run"] = run
        # The approver, not the run's requester: read back from Azure DevOps.
        from mlops_azure.lifecycle.devops_approval import run_approvals

        approvals = run_approvals(run)
        if not approvals:
            raise UserInputError(f"run {run['run_id']} has no completed approval of Azure DevOps "
                                 f"environment '{run.get('environment', '?')}' in stage "
                                 f"'{run.get('stage', '?')}': add an Approvals check to the "
                                 "environment, or record the approval with --reason")
        evidence["devops_approvals"] = [a.to_dict() for a in approvals]
        by = by or ", ".join(dict.fromkeys(a.approver for a in approvals))
        comments = "; ".join(a.comment for a in approvals if a.comment)
        reason = reason or (f"approved by {', '.join(a.approver_name for a in approvals)} "
                            f"through Azure DevOps environment '{run.get('environment', '?')}' "
                            f"in run {run['run_id']}" + (f": {comments}" if comments else ""))
    if not reason or not reason.strip():
        raise UserInputError("an approval needs a reason: pass --reason TEXT")
    # The one actor rule (unless an approver was found): in a pipeline, the run's requester.
    policy, digest = policy_in_force(config.responsible)
    event = ApproveEvent(subject=model.ref, stage=stage, reason=reason.strip(), evidence=evidence,
                         policy=policy, policy_sha256=digest)
    stored = record(ws, event, actor=by)
    return Approval.from_event(Recorded(stored, event))


def find_approval(ws: Workspace, model: ModelVersion, stage: str) -> Approval | None:
    """The newest approval of ``model`` for ``stage``, if any."""
    found = latest(ws, ApproveEvent, subject=model.ref, where=lambda e: e.stage == stage)
    return Approval.from_event(found) if found is not None else None
