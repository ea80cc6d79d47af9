"""The drift pages: the drift checks over time (a PSI and JS chart per monitored feature), and
one check's report with what it compared, the rules that fired and the retraining it caused.

Both read the audit trail's ``monitor.drift`` events (what ``mlops monitor drift`` records),
the newest :data:`WINDOW` of them, in one query (two when a model is chosen).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request
from markupsafe import Markup

from mlops_azure.audit_events import DriftCheckEvent, EventUnreadable, Recorded, decode, read
from mlops_azure.config import ProjectConfig
from mlops_azure.lifecycle.refs import split_ref
from mlops_azure.records import AuditEvent, ModelVersion
from mlops_azure.webapp._context import project, render
from mlops_azure.webapp._drift_charts import (
    JS_COLOUR,
    PSI_COLOUR,
    Point,
    Series,
    Threshold,
    safe_id,
    time_chart,
)

blueprint = Blueprint("drift", __name__)

#: The drift checks the list and the charts cover, newest first.
WINDOW = 200
#: How far back a report is looked for by its id (events of the one action, one query).
REPORT_WINDOW = 5000


@dataclass(frozen=True)
class FeatureChart:
    """One monitored feature's chart, and how many checks it covers."""

    feature: str
    svg: Markup
    checks: int


@dataclass(frozen=True)
class FeatureRow:
    """One feature of a report."""

    feature: str
    psi: float | None
    js: float | None
    drifted: bool
    critical: bool


def _ref(value: str) -> bool:
    return split_ref(value) is not None


def _version_key(ref: str) -> tuple[str, int]:
    found = split_ref(ref)
    return (found[0], -found[1]) if found else (ref, 0)


def monitored_order(config: ProjectConfig, checks: Sequence[Recorded[DriftCheckEvent]]
                    ) -> list[str]:
    """The features the checks measured: the monitoring policy's order first, then the rest."""
    seen = {f for c in checks for f in c.event.metrics}
    numeric, categorical = config.monitoring.features(config.data)
    declared = [f for f in (*numeric, *categorical) if f in seen]
    return declared + sorted(seen - set(declared))


def _metric(values: Mapping[str, float] | None, key: str) -> float | None:
    found = (values or {}).get(key)
    return float(found) if isinstance(found, int | float) and math.isfinite(found) else None


def feature_charts(config: ProjectConfig, checks: Sequence[Recorded[DriftCheckEvent]]
                   ) -> list[FeatureChart]:
    """A chart per monitored feature: PSI (circles) and JS (squares) at each check, red where
    the feature drifted, with the policy's ``psi_major`` and ``js`` thresholds dashed."""
    policy = config.monitoring
    thresholds = [Threshold(policy.psi_major, "PSI major", PSI_COLOUR),
                  Threshold(policy.js, "JS", JS_COLOUR)]
    charts = []
    for i, feature in enumerate(monitored_order(config, checks)):
        psi: list[Point] = []
        js: list[Point] = []
        for check in checks:
            values = check.event.metrics.get(feature)
            if values is None:
                continue
            drifted = feature in check.event.drifted_features
            when = check.audit.time.astimezone().strftime("%Y-%m-%d %H:%M")
            tip = (f"check #{check.audit.id}, {when}, {check.event.subject}: "
                   f"PSI {_shown(values, 'psi')}, JS {_shown(values, 'js')}"
                   f"{', drifted' if drifted else ''}")
            for key, into in (("psi", psi), ("js", js)):
                value = _metric(values, key)
                if value is not None:
                    into.append(Point(check.audit.time, value, tip, drifted))
        svg = time_chart("drift", safe_id("drift", str(i), feature),
                         f"Drift of {feature} over the last {len(psi)} checks",
                         [Series("PSI", psi, PSI_COLOUR, key="psi"),
                          Series("JS", js, JS_COLOUR, square=True, key="js")],
                         thresholds, y_label="PSI / JS")
        # Every text from the data is escaped where the SVG is built.
        charts.append(FeatureChart(feature, Markup(svg), len(psi)))
    return charts


def _shown(values: Mapping[str, float], key: str) -> str:
    value = _metric(values, key)
    return "n/a" if value is None else f"{value:.4g}"


def _refuse(message: str, **context: Any) -> tuple[str, int]:
    return render("drift.html", status=400, error=message, checks=[], charts=[], **context)


@blueprint.get("/drift")
def checks() -> tuple[str, int]:
    found = project()
    config, ws = found.config, found.workspace
    stage = request.args.get("stage", "").strip()
    model = request.args.get("model", "").strip()
    stages = list(config.stages)
    everything = read(ws, DriftCheckEvent, WINDOW)
    models = sorted({c.event.subject for c in everything} | ({model} if _ref(model) else set()),
                    key=_version_key)
    context: dict[str, Any] = {"stage": stage, "model": model, "stages": stages, "models": models,
               "window": WINDOW}
    if stage and stage not in stages:
        return _refuse(f"stage '{stage}' is not one of mlops.yaml's stages "
                       f"({', '.join(stages)})", **context)
    if model and not _ref(model):
        return _refuse(f"model '{model}' is not a model version NAME:VERSION (e.g. "
                       f"{config.model.name}:1)", **context)
    shown = read(ws, DriftCheckEvent, WINDOW, subject=model) if model else everything
    if stage:
        shown = [c for c in shown if c.event.stage == stage]
    return render("drift.html", checks=shown, charts=feature_charts(config, shown), **context)


def retraining(versions: Sequence[ModelVersion], event_id: int) -> ModelVersion | None:
    """The version trained because of report ``event_id`` (its lineage says so), if any."""
    for version in versions:
        extra = version.lineage.extra
        if extra.get("drift_report") == str(event_id):
            return version
    return None


def find_check(event_id: int) -> AuditEvent | None:
    """The drift check ``event_id`` among the newest :data:`REPORT_WINDOW` ones. The seam has
    no lookup by id: the newest :data:`WINDOW` checks are read first (where the links of the
    pages point), the longer window only when the id is not among them."""
    ws = project().workspace
    for limit in (WINDOW, REPORT_WINDOW):
        checks = ws.events.recent(limit, action=DriftCheckEvent.ACTION)
        found = next((e for e in checks if e.id == event_id), None)
        if found is not None or len(checks) < limit:
            return found
    return None


@blueprint.get("/drift/<int:event_id>")
def report(event_id: int) -> tuple[str, int]:
    found = project()
    ws = found.workspace
    entry = find_check(event_id)
    if entry is None:
        return render("error.html", status=404, message=(
            f"there is no drift check #{event_id} among the last {REPORT_WINDOW} drift checks"))
    try:
        check = Recorded(entry, decode(entry, DriftCheckEvent))
    except EventUnreadable as exc:
        return render("error.html", status=404, message=str(exc))
    event = check.event
    name = (split_ref(event.subject) or (found.config.model.name, 0))[0]
    features = [FeatureRow(f, _metric(event.metrics.get(f), "psi"),
                           _metric(event.metrics.get(f), "js"), f in event.drifted_features,
                           f in event.critical_features)
                for f in monitored_order(found.config, [check])]
    retrained = retraining(ws.models.versions(name), event_id)
    return render("drift_report.html", check=check, event=event, features=features,
                  retrained=retrained, policy=found.config.monitoring)
