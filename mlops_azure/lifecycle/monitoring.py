"""Drift checks against a model's own training data, recorded in the audit trail.

The reference is the data the model was trained on, found through its lineage (data asset and
version); the current window is a file of inference-time rows. The result is an audit event
(``monitor.drift``), whose id names the report wherever it is cited later (e.g. as the reason for
a retraining).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.provenance import current_actor
from mlops_azure.lifecycle.refs import parse_ref
from mlops_azure.monitoring.drift import DriftReport, DriftThresholds, compute_drift
from mlops_azure.workspace import ModelVersion, Workspace

DRIFT_EVENT = "monitor.drift"


@dataclass(frozen=True)
class DriftCheck:
    """A drift report, what it compared, and the audit event that records it."""

    report: DriftReport
    model: ModelVersion
    reference: str
    current: Path
    event_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"report_id": self.event_id, "model": self.model.ref, "reference": self.reference,
                "current": str(self.current), **self.report.to_dict()}


def monitored_model(ws: Workspace, config: ProjectConfig, stage: str | None,
                    model: str | None) -> ModelVersion:
    """``model`` (NAME:VERSION), else the version taking most traffic at ``stage``, else the
    latest registered version."""
    if model:
        name, version = parse_ref(model)
        return ws.get_model(name, version)
    if stage:
        serving = ws.endpoint_traffic(config.stage(stage).endpoint)
        if not serving or serving[0].traffic == 0:
            raise UserInputError(f"stage '{stage}' serves no model: pass --model NAME:VERSION")
        return ws.get_model(serving[0].model_name, serving[0].model_version)
    return ws.get_model(config.model.name)


def _read_csv(path: Path, what: str) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise UserInputError(f"{what} {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{what} {path} is not a readable CSV file: {exc}") from None


def check_drift(ws: Workspace, config: ProjectConfig, current: Path, *, stage: str | None = None,
                model: str | None = None, actor: str | None = None) -> DriftCheck:
    """Compare ``current`` with the monitored model's training data and record the result."""
    found = monitored_model(ws, config, stage, model)
    lineage = found.lineage
    asset = ws.get_data(lineage.data_asset, lineage.data_version)
    reference = _read_csv(ws.data_local_path(asset), f"training data {asset.ref} at")
    window = _read_csv(Path(current), "current data")
    policy = config.monitoring
    numeric, categorical = policy.features(config.data.data_schema)
    report = compute_drift(
        reference, window, numeric=numeric, categorical=categorical,
        thresholds=DriftThresholds(psi_major=policy.psi_major, js=policy.js,
                                   wasserstein=policy.wasserstein, ks_p=policy.ks_p,
                                   drifted_share=policy.drifted_share))
    event = ws.record_event(DRIFT_EVENT, found.ref, {
        "stage": stage, "reference": asset.ref, "current": str(Path(current).resolve()),
        "drifted": report.drifted, "drifted_share": report.drifted_share,
        "drifted_features": list(report.drifted_features),
        "metrics": {f.feature: {"psi": round(f.psi, 6), "js": round(f.js, 6)}
                    for f in report.features},
    }, actor=actor or current_actor())
    return DriftCheck(report, found, asset.ref, Path(current), event.id)
