"""The model card of a registered version: built from the registry record, the responsible-ML
report stored beside it and the audit trail, rendered as Markdown and HTML, and stored with the
version at registration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlops_azure.audit_events import ApproveEvent, PromoteEvent, QaGateEvent, parse
from mlops_azure.config import ProjectConfig
from mlops_azure.lifecycle.refs import resolve_model
from mlops_azure.lifecycle.responsible import CARD_HTML, CARD_MARKDOWN, stored_report
from mlops_azure.workspace import ModelVersion, Workspace

if TYPE_CHECKING:
    from mlops_azure.responsible import ModelCard, ResponsibleReport



def _gates(ws: Workspace, model: ModelVersion, report: ResponsibleReport | None
           ) -> list[dict[str, str]]:
    created = model.created_at.isoformat() if model.created_at else ""
    gates = [{"gate": "data check", "verdict": "passed", "at": created,
              "detail": f"the training pipeline checked {model.lineage.data_asset}:"
                        f"{model.lineage.data_version} against the schema"},
             {"gate": "champion", "verdict": model.tags.get("champion_gate", "?"), "at": created,
              "detail": f"against {model.tags.get('champion', 'none')}"}]
    if report is not None and report.verdict is not None:
        gates.append({"gate": "responsible ML", "verdict": report.verdict.status,
                      "at": created, "detail": report.verdict.summary()})
    for entry in reversed(ws.events.recent(200, subject=model.ref)):
        event = parse(entry)
        facts: list[tuple[str, object]]
        # The gates a version went through, as the card names them.
        if isinstance(event, QaGateEvent):
            name, verdict = "QA gate", "passed" if event.passed else "failed"
            facts = [("stage", event.stage), ("failed", list(event.failed))]
        elif isinstance(event, ApproveEvent):
            name, verdict = "approval", "recorded"
            facts = [("stage", event.stage), ("reason", event.reason),
                     ("policy sha256", (event.policy_sha256 or "")[:12])]
        elif isinstance(event, PromoteEvent):
            name, verdict = "promotion", event.outcome or "recorded"
            facts = [("stage", event.stage), ("reason", event.reason)]
        else:
            continue
        gates.append({"gate": name, "verdict": verdict, "at": entry.time.isoformat(),
                      "detail": ", ".join(f"{k}: {v}" for k, v in facts if v)})
    return gates


def _group_limits(config: ProjectConfig, report: Mapping[str, Any]) -> dict[str, float]:
    """The line on each per-group plot: the worst a group may be, from the best trusted group
    and the policy's difference and ratio limits (error metrics: lower is better)."""
    settings = config.responsible
    if settings is None:
        return {}
    limits: dict[str, float] = {}
    metric = str(report.get("metric"))
    for feature, limit in settings.policy.max_disparity.items():
        groups = (report.get("groups") or {}).get(feature) or {}
        values = [g[metric] for g in groups.get("by_group", [])
                  if g.get("trusted") and isinstance(g.get(metric), int | float)]
        if not values:
            continue
        best = min(values)
        bounds = [b for b in ((best + limit.difference) if limit.difference is not None else None,
                              (best * limit.ratio) if limit.ratio is not None else None)
                  if b is not None]
        if bounds:
            limits[feature] = min(bounds)
    return limits


def build_card(ws: Workspace, config: ProjectConfig, model: ModelVersion,
               report: ResponsibleReport | None = None) -> ModelCard:
    """The card of ``model`` as of now (gates recorded so far included); ``report`` when the
    caller holds it, else the one stored with the version."""
    from mlops_azure.responsible import CardLineage, Champion, GateResult, ModelCard

    report = report if report is not None else stored_report(ws, model)
    lineage = model.lineage
    champion = None
    champion_ref = model.tags.get("champion", "none")
    if ":" in champion_ref:
        name, version = champion_ref.rsplit(":", 1)
        try:
            champion = Champion(name, version, dict(ws.models.get(name, int(version)).metrics))
        except Exception:
            champion = None
    data = report.to_dict() if report is not None else None
    return ModelCard(
        name=model.name, version=str(model.version), description=model.description,
        created=model.created_at, creator=lineage.creator,
        intended_use=config.model.intended_use, limitations=tuple(config.model.limitations),
        lineage=CardLineage(
            data_asset=f"{lineage.data_asset}:{lineage.data_version}",
            data_sha256=lineage.data_sha256, code_commit=lineage.code_commit,
            job_id=lineage.job_id, pipeline=lineage.pipeline, params=dict(lineage.params),
            environment_hash=lineage.environment_hash),
        metrics=dict(model.metrics), champion=champion,
        gates=tuple(GateResult.parse(g) for g in _gates(ws, model, report)),
        responsible=data, group_limits=_group_limits(config, data) if data else {},
        task=config.model.task,
    )


def store_card(ws: Workspace, config: ProjectConfig, model: ModelVersion,
               report: ResponsibleReport) -> ModelCard:
    """Render the card of a freshly registered version and store both renderings with it."""
    from mlops_azure.responsible import render_html, render_markdown

    card = build_card(ws, config, model, report)
    ws.models.put_document(model.name, model.version, CARD_MARKDOWN, render_markdown(card).encode())
    ws.models.put_document(model.name, model.version, CARD_HTML, render_html(card).encode())
    return card


def current_card(ws: Workspace, config: ProjectConfig, ref: str) -> tuple[ModelVersion, ModelCard]:
    """``NAME:VERSION``'s card with every gate recorded up to now."""
    model = resolve_model(ws, ref)
    return model, build_card(ws, config, model)
