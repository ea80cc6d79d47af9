"""The model pages: every registered version, and one version with its lineage, its metrics
against the champion it beat, its gates and approvals, and its model card."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, request

from mlops_azure.audit_events import (
    ApproveEvent,
    ChampionGateEvent,
    QaGateEvent,
    Recorded,
    ResponsibleGateEvent,
    read,
)
from mlops_azure.errors import NotFoundError
from mlops_azure.lifecycle.refs import split_ref
from mlops_azure.records import ModelVersion
from mlops_azure.responsible import render_html
from mlops_azure.rules import whole_number
from mlops_azure.webapp._context import project, render
from mlops_azure.webapp._status import event_row

blueprint = Blueprint("model", __name__)

#: Versions per page of the list.
PAGE_SIZE = 50


@dataclass(frozen=True)
class MetricRow:
    """One metric of a version beside the same metric of its champion."""

    name: str
    value: float
    champion: float | None

    @property
    def change(self) -> float | None:
        return None if self.champion is None else self.value - self.champion


@blueprint.get("/models")
def versions() -> tuple[str, int]:
    page = request.args.get("page", "1")
    number = max(1, whole_number(page) or 1)
    found = project().models(project().config.model.name)
    shown = found[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
    return render("models.html", versions=shown, page=number, total=len(found),
                  page_count=max(1, -(-len(found) // PAGE_SIZE)))


#: Beyond this a version number is no version (and too large for the store's integers).
_LARGEST_VERSION = 2**53


def _version(name: str, version: int) -> ModelVersion:
    if version > _LARGEST_VERSION:
        abort(404, f"model '{name}' has no version {version}")
    try:
        return project().workspace.models.get(name, version)
    except NotFoundError as exc:
        abort(404, exc.message)


def _champion_metrics(gate: Recorded[ChampionGateEvent] | None) -> dict[str, float]:
    if gate is None or not gate.event.champion:
        return {}
    champion = split_ref(gate.event.champion)
    if champion is None:
        return {}
    try:
        return dict(project().workspace.models.get(*champion).metrics)
    except NotFoundError:
        return {}


@blueprint.get("/models/<name>/<int:version>")
def version_page(name: str, version: int) -> tuple[str, int]:
    model = _version(name, version)
    ws = project().workspace
    job = model.lineage.job_id
    champion_gates = read(ws, ChampionGateEvent, 1, subject=job)
    gate = champion_gates[0] if champion_gates else None
    champion = _champion_metrics(gate)
    metrics = [MetricRow(k, v, champion.get(k)) for k, v in sorted(model.metrics.items())]
    gates = [event_row(r.audit) for r in champion_gates]
    gates += [event_row(r.audit) for r in read(ws, ResponsibleGateEvent, 5, subject=job)]
    gates += [event_row(r.audit) for r in read(ws, QaGateEvent, 20, subject=model.ref)]
    approvals = [event_row(r.audit) for r in read(ws, ApproveEvent, 20, subject=model.ref)]
    serving = [(e.name, d.name, e.traffic.get(d.name, 0), d.state.value)
               for e in ws.endpoints.all() for d in ws.endpoints.list_deployments(e.name)
               if d.model_ref == model.ref]
    history = [event_row(e) for e in ws.events.recent(200, subject=model.ref)]
    return render("model.html", model=model, gate=gate, metrics=metrics, gates=gates,
                  approvals=approvals, serving=serving, history=history)


@blueprint.get("/models/<name>/<int:version>/card")
def card(name: str, version: int) -> Response:
    model = _version(name, version)
    html = render_html(project().model_card(model.ref))
    return Response(html, mimetype="text/html")
