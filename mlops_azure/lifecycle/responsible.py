"""Responsible ML in the lifecycle: the report a training job's evidence yields, its gate at
registration and at promotion, and the model card stored with the version.

The evaluate step writes the per-row evidence (``predictions.csv`` with the holdout's raw
columns, ``explanations.json``) and the train step, when it mitigates, ``mitigation.json``. This
module reads them through the workspace seam, so the same code judges a job that ran locally or
on Azure ML.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from mlops_azure.audit_events import ResponsibleGateEvent
from mlops_azure.config import ProjectConfig
from mlops_azure.contract import (
    EXPLANATIONS_FILE,
    METRICS_FILE,
    MITIGATION_FILE,
    ExplanationsFile,
    MetricsFile,
    MitigationFile,
    load_json,
    validate,
)
from mlops_azure.errors import BackendError, GateFailed, NotFoundError, UserInputError
from mlops_azure.workspace import Job, ModelVersion, Workspace

if TYPE_CHECKING:
    from mlops_azure.responsible import ResponsibleReport, Verdict

#: Documents stored beside a model version.
REPORT_DOC = "responsible.json"
CARD_MARKDOWN = "card.md"
CARD_HTML = "card.html"
GATE_EVENT = ResponsibleGateEvent.ACTION


def _json_file(path: Path, model: type[BaseModel], where: str) -> Any:
    """The document at ``path`` checked against the contract's ``model``; None when absent."""
    if not path.is_file():
        return None
    document = load_json(path, where, UserInputError)
    validate(model, document, where, UserInputError)
    return document


def job_report(ws: Workspace, config: ProjectConfig, job: Job, metrics: Mapping[str, Any],
               *, at: Literal["registration", "promotion"] = "registration"
               ) -> ResponsibleReport | None:
    """The responsible-ML report of a finished training job, with the policy's verdict ``at``
    that moment; None when ``mlops.yaml`` declares no ``responsible`` section."""
    settings = config.responsible
    if settings is None:
        return None
    import pandas as pd

    from mlops_azure.responsible import allowed_values, analyse, with_verdict

    found = validate(MetricsFile, metrics, f"job {job.id}: {METRICS_FILE}", UserInputError)
    where = found.predictions
    if where is None:
        raise UserInputError(f"job {job.id}: {METRICS_FILE} has no field 'predictions' (the "
                             "per-row holdout predictions), so the responsible-ML checks cannot run")
    folder = ws.jobs.output_path(job.id, "metrics")
    columns = settings.features
    try:
        predictions = pd.read_csv(folder / where.file, dtype={c: str for c in columns})
    except (OSError, ValueError) as exc:
        raise BackendError(f"job {job.id}: {where.file} is unreadable ({exc})") from None
    explanations = _json_file(folder / EXPLANATIONS_FILE, ExplanationsFile,
                              f"job {job.id}: output metrics/{EXPLANATIONS_FILE}")
    mitigation = _json_file(ws.jobs.output_path(job.id, "model") / MITIGATION_FILE, MitigationFile,
                            f"job {job.id}: output model/{MITIGATION_FILE}")
    report = analyse(predictions, settings, y_true=where.actual, y_pred=where.predicted,
                     allowed=allowed_values(config.data.data_schema),
                     explanations=explanations, mitigation=mitigation)
    return with_verdict(report, settings.policy, at=at)


def verdict(report: ResponsibleReport) -> Verdict:
    """The verdict :func:`job_report` and :func:`check_promotion` always attach."""
    if report.verdict is None:
        raise BackendError("the responsible-ML report has not been judged")
    return report.verdict


def blocking_message(found: Verdict, ref: str) -> str:
    """One sentence naming every blocking finding: which group, which number, which limit."""
    blocking = [f.message for f in found.findings if f.severity == "block"]
    return f"{ref} fails the responsible-ML policy at {found.at}: " + "; ".join(blocking)


def store_report(ws: Workspace, model: ModelVersion, report: ResponsibleReport) -> None:
    """Keep the report beside the model version: promotion re-judges it, the card shows it."""
    body = json.dumps(report.to_dict(), indent=2, sort_keys=True, allow_nan=False)
    ws.models.put_document(model.name, model.version, REPORT_DOC, (body + "\n").encode())


def stored_document(ws: Workspace, model: ModelVersion) -> bytes | None:
    """The report's bytes as stored with ``model``; None for a model registered without one."""
    try:
        return ws.models.get_document(model.name, model.version, REPORT_DOC)
    except NotFoundError:
        return None


def parse_report(raw: bytes, model: ModelVersion) -> ResponsibleReport:
    from mlops_azure.responsible import ResponsibleReport

    try:
        return ResponsibleReport.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise BackendError(f"the responsible-ML report of {model.ref} is malformed ({exc})") from None


def stored_report(ws: Workspace, model: ModelVersion) -> ResponsibleReport | None:
    """The report stored with ``model``; None for a model registered without one."""
    raw = stored_document(ws, model)
    return parse_report(raw, model) if raw is not None else None


def check_promotion(ws: Workspace, config: ProjectConfig, model: ModelVersion) -> dict[str, Any] | None:
    """Judge ``model``'s stored report by the current policy as a promotion (a violation always
    blocks): ``GateFailed`` naming the group and the number, or the evidence for the approval
    record. None when ``mlops.yaml`` declares no ``responsible`` section."""
    settings = config.responsible
    if settings is None:
        return None
    from mlops_azure.responsible import with_verdict

    raw = stored_document(ws, model)
    report = parse_report(raw, model) if raw is not None else None
    if report is None:
        raise GateFailed(f"{model.ref} has no responsible-ML report (it was registered before "
                         "mlops.yaml declared 'responsible'): retrain it before promoting")
    found = verdict(with_verdict(report, settings.policy, at="promotion"))
    if found.blocked:
        raise GateFailed(blocking_message(found, model.ref))
    # The document's hash ties the approval to exactly the report that was judged.
    return {"status": found.status, "document": REPORT_DOC,
            "sha256": hashlib.sha256(raw or b"").hexdigest(),
            "findings": [f.message for f in found.findings]}
