"""Training: run the pipeline, judge the candidate against the champion, register with lineage.

Backend-neutral: everything goes through a ``Workspace``. The evaluate step scores the candidate
and the champion on the same holdout; this module only decides and records.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlops_azure._files import atomic_write
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import (
    BackendError,
    BaselineMissingError,
    GateFailed,
    NotFoundError,
    UserInputError,
)
from mlops_azure.lifecycle.champion import GateDecision, decide
from mlops_azure.lifecycle.data import resolve_training_data
from mlops_azure.lifecycle.provenance import current_actor, environment_hash, git_commit
from mlops_azure.workspace import (
    DataAsset,
    InputValue,
    Job,
    JobStatus,
    Lineage,
    ModelVersion,
    PipelineSubmission,
    ProgressCallback,
    Workspace,
)

#: The pipeline inputs mlops fills in itself; everything else comes from ``training.params``.
RESERVED_INPUTS = ("raw_data", "schema", "champion_model")


class TrainingFailed(GateFailed):
    """The training job failed (a step exited non-zero, e.g. the data check said no)."""


@dataclass(frozen=True)
class Baseline:
    """The champion the candidate must beat, and where it was found."""

    model: ModelVersion
    source: Literal["production", "latest"]
    path: Path


@dataclass(frozen=True)
class TrainingOutcome:
    """What ``train`` did: the job, the gate's decision and the model it registered (if any)."""

    job: Job
    data: DataAsset
    decision: GateDecision
    baseline: Baseline | None
    model: ModelVersion | None
    metrics: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job.id,
            "data": self.data.ref,
            "champion": self.baseline.model.ref if self.baseline else None,
            "champion_source": self.baseline.source if self.baseline else None,
            "decision": self.decision.to_dict(),
            "registered": self.model.ref if self.model else None,
            "metrics": dict(self.metrics),
        }


def find_baseline(ws: Workspace, config: ProjectConfig) -> Baseline | None:
    """The model serving in production, else the latest registered version, else None.

    Raises ``BaselineMissingError`` when a champion should exist but cannot be loaded: a
    challenger must never be registered against a champion nobody could evaluate.
    """
    name = config.model.name
    model: ModelVersion | None = None
    source: Literal["production", "latest"] = "latest"
    production = config.production_stage
    if production is not None:
        live = [
            d for d in ws.endpoint_traffic(production.endpoint)
            if d.traffic > 0 and d.model_name == name
        ]
        if live:
            serving = max(live, key=lambda d: d.traffic)
            try:
                model = ws.get_model(serving.model_name, serving.model_version)
            except NotFoundError:
                raise BaselineMissingError(
                    f"production endpoint '{production.endpoint}' serves "
                    f"{serving.model_name}:{serving.model_version}, which is not in the registry: "
                    "refusing to judge a candidate against a champion that cannot be found"
                ) from None
            source = "production"
    if model is None:
        versions = ws.list_models(name)
        if not versions:
            return None
        model = versions[0]
    try:
        path = ws.model_local_path(model.name, model.version)
    except (BackendError, NotFoundError) as exc:
        raise BaselineMissingError(
            f"champion {model.ref} ({source}) cannot be loaded, so the candidate cannot be "
            f"judged: {exc.message}"
        ) from None
    return Baseline(model, source, path)


def _pipeline_inputs(
    config: ProjectConfig, overrides: Mapping[str, InputValue]
) -> dict[str, InputValue]:
    for key in overrides:
        if key in RESERVED_INPUTS:
            raise UserInputError(f"--param {key}: '{key}' is set by mlops itself and cannot be overridden")
    return {**config.training.params, **overrides}


def _read_metrics(ws: Workspace, job: Job) -> dict[str, Any]:
    file = ws.job_output_path(job.id, "metrics") / "metrics.json"
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
        candidate = doc["candidate"]
        if not isinstance(candidate, dict):
            raise TypeError("'candidate' is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackendError(
            f"job {job.id}: the evaluate step's metrics.json is missing or malformed ({exc})"
        ) from None
    return dict(doc)


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float)}


def train(
    ws: Workspace,
    config: ProjectConfig,
    *,
    data: str | None = None,
    params: Mapping[str, InputValue] | None = None,
    progress: ProgressCallback | None = None,
    actor: str | None = None,
) -> TrainingOutcome:
    """Run the training pipeline, apply the champion gate, and register when the gate says so.

    ``data`` is a data asset ``NAME[:VERSION]``; by default ``data.path`` is uploaded as the
    next version of ``data.asset`` (or reused when its content is unchanged).
    """
    actor = actor or current_actor()
    inputs = _pipeline_inputs(config, params or {})
    asset = resolve_training_data(ws, config, data)
    baseline = find_baseline(ws, config)
    pipeline = config.resolve(config.training.pipeline)
    with tempfile.TemporaryDirectory(prefix="mlops-train-") as tmp:
        schema_file = Path(tmp) / "schema.json"
        schema_file.write_text(config.data.data_schema.to_json(), encoding="utf-8")
        inputs["raw_data"] = ws.data_input(asset)
        inputs["schema"] = schema_file
        if baseline is not None:
            inputs["champion_model"] = ws.model_input(baseline.model)
        submission = PipelineSubmission(
            pipeline_file=pipeline,
            inputs=inputs,
            experiment=config.training.experiment,
            tags={"data": asset.ref, "champion": baseline.model.ref if baseline else ""},
        )
        job = ws.run_pipeline(submission, progress)

    if job.status is not JobStatus.COMPLETED:
        ws.record_event("train", job.id, {"status": job.status.value, "error": job.error},
                        actor=actor)
        raise TrainingFailed(f"training job {job.id} failed: {job.error or 'no error recorded'}")

    metrics = _read_metrics(ws, job)
    champion_metrics = metrics.get("champion")
    if baseline is not None and not isinstance(champion_metrics, dict):
        raise BaselineMissingError(
            f"job {job.id}: the evaluate step did not score champion {baseline.model.ref}, "
            "so the candidate cannot be judged"
        )
    decision = decide(
        config.champion,
        metrics["candidate"],
        champion_metrics if baseline is not None else None,
        champion_ref=baseline.model.ref if baseline else None,
    )
    ws.record_event(
        "gate.champion",
        job.id,
        {**decision.to_dict(), "champion": baseline.model.ref if baseline else None,
         "champion_source": baseline.source if baseline else None, "data": asset.ref},
        actor=actor,
    )
    model = None
    if decision.register:
        model = ws.register_model(
            config.model.name,
            job_id=job.id,
            output="model",
            metrics=_numbers(metrics["candidate"]),
            lineage=_lineage(config, job, asset, inputs, actor, metrics),
            tags={"champion_gate": decision.verdict,
                  "champion": baseline.model.ref if baseline else "none"},
            description=config.model.description,
        )
    return TrainingOutcome(job, asset, decision, baseline, model, metrics)


def _lineage(
    config: ProjectConfig,
    job: Job,
    asset: DataAsset,
    inputs: Mapping[str, InputValue],
    actor: str,
    metrics: Mapping[str, Any],
) -> Lineage:
    holdout = metrics.get("holdout") or {}
    params = {k: v for k, v in inputs.items() if k not in RESERVED_INPUTS}
    return Lineage(
        data_asset=asset.name,
        data_version=asset.version,
        data_sha256=asset.sha256,
        code_commit=git_commit(config.root),
        job_id=job.id,
        params=params,
        environment_hash=environment_hash(config.resolve(Path("environments/training.yml"))),
        creator=actor,
        pipeline=str(config.training.pipeline),
        extra={f"holdout_{k}": str(v) for k, v in holdout.items()},
    )


def write_model_json(path: Path, model: ModelVersion) -> None:
    """The hand-over file between DevOps stages: an explicit name and version, never 'latest'."""
    atomic_write(path, (json.dumps({"name": model.name, "version": model.version}) + "\n").encode())
