"""Approvals: production cannot be reached without a record of who approved what, when, why,
and on which evidence.

Evidence is the version's latest passing QA gate report (a ``gate.qa`` audit event) and, for a
stage that requires approval, the responsible-ML verdict on the report stored with the version
(a violation of the policy blocks the approval). In Azure
DevOps the approval may come from an Environment approval instead of a person running
``mlops approve``: then the pipeline run that passed the Environment's checks is the evidence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import GateFailed, UserInputError
from mlops_azure.lifecycle.provenance import current_actor
from mlops_azure.lifecycle.refs import resolve_model
from mlops_azure.lifecycle.responsible import check_promotion
from mlops_azure.workspace import AuditEvent, ModelVersion, Workspace

if TYPE_CHECKING:
    from mlops_azure.lifecycle.qa import QaReport

APPROVE = "approve"
QA_GATE = "gate.qa"


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

    @classmethod
    def from_event(cls, event: AuditEvent) -> Approval:
        return cls(model=event.subject, stage=str(event.details.get("stage", "")), by=event.actor,
                   reason=str(event.details.get("reason", "")), time=event.time,
                   evidence=dict(event.details.get("evidence", {})), event_id=event.id)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "stage": self.stage, "by": self.by, "reason": self.reason,
                "time": self.time.isoformat(), "evidence": self.evidence, "event_id": self.event_id}


def latest_qa_report(ws: Workspace, model: ModelVersion) -> AuditEvent | None:
    """The newest ``gate.qa`` event of ``model``, passed or not."""
    found = ws.list_events(1, action=QA_GATE, subject=model.ref)
    return found[0] if found else None


def record_qa(ws: Workspace, report: QaReport, *, actor: str | None = None) -> AuditEvent:
    """Put a QA gate report in the audit trail, where approvals find it as evidence."""
    return ws.record_event(QA_GATE, report.model, {
        "stage": report.stage, "endpoint": report.endpoint, "deployment": report.deployment,
        "passed": report.passed, "failed": [c.name for c in report.failed],
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in report.checks],
    }, actor=actor or current_actor())


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
    run: it must run inside a pipeline, and the run id is recorded as evidence.
    """
    config.stage(stage)
    model = resolve_model(ws, ref)
    report = latest_qa_report(ws, model)
    if report is None:
        raise GateFailed(f"{model.ref} has no QA gate report: run 'mlops gate qa --model {model.ref}' "
                         "against a stage where it is deployed before approving it")
    if not report.details.get("passed"):
        failed = ", ".join(report.details.get("failed", [])) or "some checks"
        raise GateFailed(f"{model.ref}'s latest QA gate report (event {report.id}) failed {failed}: "
                         "it cannot be approved")
    evidence: dict[str, Any] = {"qa_event": report.id, "qa_stage": report.details.get("stage"),
                                "qa_time": report.time.isoformat()}
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
        actor = by or run.get("requested_for") or current_actor()
        reason = reason or (f"approved through Azure DevOps environment "
                            f"'{run.get('environment', '?')}' in run {run['run_id']}")
    else:
        actor = by or current_actor()
    if not reason or not reason.strip():
        raise UserInputError("an approval needs a reason: pass --reason TEXT")
    event = ws.record_event(APPROVE, model.ref, {"stage": stage, "reason": reason.strip(),
                                                 "evidence": evidence}, actor=actor)
    return Approval.from_event(event)


def find_approval(ws: Workspace, model: ModelVersion, stage: str) -> Approval | None:
    """The newest approval of ``model`` for ``stage``, if any."""
    for event in ws.list_events(200, action=APPROVE, subject=model.ref):
        if event.details.get("stage") == stage:
            return Approval.from_event(event)
    return None
