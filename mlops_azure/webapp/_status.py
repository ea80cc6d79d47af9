"""The status page: what serves where, the latest version, the last release and drift events.

``GET /`` is the page; ``GET /status/fragment`` is its body alone, which htmx fetches every
``refresh_s`` seconds so the page follows a promotion made elsewhere without a reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint

from mlops_azure.audit_events import (
    ApproveEvent,
    ChampionGateEvent,
    DeployEvent,
    DriftCheckEvent,
    PromoteEvent,
    QaGateEvent,
    RollbackEvent,
    read,
    read_all,
    summary_of,
)
from mlops_azure.lifecycle.status import ProjectStatus, StageDeployment
from mlops_azure.records import AuditEvent
from mlops_azure.webapp._context import project, render, settings

blueprint = Blueprint("status", __name__)

#: The release decisions the status page lists, newest first.
RELEASE_EVENTS = (ChampionGateEvent, QaGateEvent, ApproveEvent, DeployEvent, PromoteEvent,
                  RollbackEvent)
#: How many of them.
RECENT = 8
#: The outcome of events whose details do not state one.
OUTCOMES = {ApproveEvent.ACTION: "approved", "register": "registered"}


@dataclass(frozen=True)
class EventRow:
    """One audit event as a table row."""

    id: int
    time: datetime
    actor: str
    action: str
    subject: str
    stage: str
    outcome: str
    note: str


@dataclass(frozen=True)
class StageView:
    """A stage: its endpoint, the version taking most traffic, and every deployment."""

    name: str
    endpoint: str
    serving: str | None
    scoring_uri: str | None
    deployments: list[StageDeployment]
    operation: str


def event_row(audit: AuditEvent) -> EventRow:
    """``audit`` with its stage, outcome and note read off its details."""
    stage, outcome, note = summary_of(audit)[:3]
    if not outcome:
        outcome = OUTCOMES.get(audit.action) or str(audit.details.get("verdict") or "")
    return EventRow(audit.id, audit.time, audit.actor, audit.action, audit.subject, stage,
                    outcome, note)


def stage_views(status: ProjectStatus) -> list[StageView]:
    views = []
    for name, stage in project().config.stages.items():
        rows = [r for r in status.stages if r.stage == name]
        serving = next((r.model for r in rows if r.model and r.traffic > 0), None)
        views.append(StageView(name, stage.endpoint, serving, status.scoring_uri(name),
                               [r for r in rows if r.deployment],
                               status.operations.get(stage.endpoint, "")))
    return views


def _context() -> dict[str, Any]:
    found = project()
    ws = found.workspace
    status = found.status()
    drift = read(ws, DriftCheckEvent, 1)
    return {"stages": stage_views(status), "latest": status.latest_registered,
            "events": [event_row(r.audit) for r in read_all(ws, RELEASE_EVENTS, RECENT)[:RECENT]],
            "drift": drift[0] if drift else None, "telemetry": status.telemetry,
            "refresh_s": settings().refresh_s, "checked_at": datetime.now().astimezone()}


@blueprint.get("/")
def page() -> tuple[str, int]:
    return render("status.html", **_context())


@blueprint.get("/status/fragment")
def fragment() -> tuple[str, int]:
    return render("status_body.html", **_context())
