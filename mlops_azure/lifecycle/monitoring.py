"""Drift checks against a model's own training data, recorded in the audit trail.

The reference is the data the model was trained on, found through its lineage (data asset and
version); the current window is a file of inference-time rows. When the window carries the
model's predictions (recorded requests do), they are compared with the model's predictions on
its holdout (``reference-predictions.json``, written by the train step): prediction drift.
The result is an audit event (``monitor.drift``), whose id names the report wherever it is cited
later (e.g. as the reason for a retraining).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_azure.audit_events import DriftCheckEvent, record
from mlops_azure.config import ProjectConfig
from mlops_azure.contract import (
    REFERENCE_PREDICTIONS_FILE,
    ReferencePredictionsFile,
    find_in_model,
    read_document,
)
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.refs import live_deployment, parse_ref
from mlops_azure.monitoring.drift import DriftReport, DriftThresholds, compute_drift
from mlops_azure.workspace import ModelVersion, Workspace

DRIFT_EVENT = DriftCheckEvent.ACTION
#: The column of the current window holding the model's predictions.
PREDICTION_COLUMN = "prediction"


@dataclass(frozen=True)
class DriftCheck:
    """A drift report, what it compared, and the audit event that records it."""

    report: DriftReport
    model: ModelVersion
    reference: str
    current: str
    event_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"report_id": self.event_id, "model": self.model.ref, "reference": self.reference,
                "current": self.current, **self.report.to_dict()}


def monitored_model(ws: Workspace, config: ProjectConfig, stage: str | None,
                    model: str | None) -> ModelVersion:
    """``model`` (NAME:VERSION), else the version taking most traffic at ``stage``, else the
    latest registered version."""
    if model:
        name, version = parse_ref(model)
        return ws.models.get(name, version)
    if stage:
        serving = live_deployment(ws, config.stage(stage).endpoint)
        if serving is None:
            raise UserInputError(f"stage '{stage}' serves no model: pass --model NAME:VERSION")
        return ws.models.get(serving.model_name, serving.model_version)
    return ws.models.get(config.model.name)


def _read_csv(path: Path, what: str) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise UserInputError(f"{what} {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{what} {path} is not a readable CSV file: {exc}") from None


def reference_predictions(ws: Workspace, model: ModelVersion) -> Any:
    """The model's predictions on its holdout, or None for a model trained before they were
    kept (or by a train step that does not write them)."""
    import numpy as np

    folder = ws.models.local_path(model.name, model.version)
    found = find_in_model(folder, REFERENCE_PREDICTIONS_FILE)
    if found is None:
        return None
    shown = f"{found.relative_to(folder).as_posix()} of {model.ref}"
    document = read_document(ReferencePredictionsFile, found, shown, UserInputError)
    return np.asarray(document.predictions, dtype=np.float64)


def collected_window(ws: Workspace, config: ProjectConfig, stage: str, window: str) -> Any:
    """The rows the stage's endpoint recorded in the last ``window`` (e.g. ``7d``)."""
    from mlops_azure.monitoring.collected import read_collected, window_seconds

    seconds = window_seconds(window)
    folder = ws.endpoints.collected_data_dir(config.stage(stage).endpoint, seconds)
    if folder is None:
        raise UserInputError(f"the {ws.backend} workspace does not collect inference data yet: "
                             "pass --current FILE")
    rows = read_collected(folder, seconds)
    if rows.empty:
        raise UserInputError(f"stage '{stage}' recorded no user requests in the last {window} "
                             "(the tool's own QA and rollout probes are not counted): pass "
                             "--current FILE or a longer --window")
    return rows


def check_drift(ws: Workspace, config: ProjectConfig, current: str | Path | None = None, *,
                stage: str | None = None, model: str | None = None, window: str = "7d",
                actor: str | None = None) -> DriftCheck:
    """Compare ``current`` (a CSV file or a data asset ``azureml:NAME[:VERSION]``; by default
    the requests ``stage`` recorded in the last ``window``) with the monitored model's training
    data, and record the result."""
    if current is None and stage is None:
        raise UserInputError("say what to compare: --current FILE, or --stage S for the requests "
                             "it recorded")
    found = monitored_model(ws, config, stage, model)
    lineage = found.lineage
    asset = ws.data.get(lineage.data_asset, lineage.data_version)
    reference = _read_csv(ws.data.local_path(asset), f"training data {asset.ref} at")
    if current is not None:
        from mlops_azure.lifecycle.data import local_data

        path, described = local_data(ws, current)
        window_rows = _read_csv(path, "current data")
    else:
        assert stage is not None  # checked above
        window_rows = collected_window(ws, config, stage, window)
        described = f"requests to stage {stage} in the last {window}"
    policy = config.monitoring
    numeric, categorical = policy.features(config.data)
    predictions = None
    if PREDICTION_COLUMN in window_rows.columns:
        held_out = reference_predictions(ws, found)
        if held_out is not None:
            predictions = (held_out, window_rows[PREDICTION_COLUMN])
    report = compute_drift(
        reference, window_rows, numeric=numeric, categorical=categorical,
        thresholds=DriftThresholds(psi_major=policy.psi_major, js=policy.js,
                                   wasserstein=policy.wasserstein, ks_p=policy.ks_p,
                                   chi2_p=policy.chi2_p,
                                   drifted_share=policy.drifted_share,
                                   critical=dict(policy.critical), min_rows=policy.min_rows),
        predictions=predictions)
    verdict = report.verdict
    event = record(ws, DriftCheckEvent(
        subject=found.ref, stage=stage, reference=asset.ref, current=described,
        drifted=report.drifted, rules=tuple(verdict.rules), verdict=verdict.reason,
        drifted_share=report.drifted_share, critical_features=tuple(report.critical_features),
        drifted_features=tuple(report.drifted_features),
        prediction_drifted=report.prediction.drifted if report.prediction else None,
        metrics={f.feature: {"psi": round(f.psi, 6), "js": round(f.js, 6)} for f in report.compared},
    ), actor=actor)
    return DriftCheck(report, found, asset.ref, described, event.id)
