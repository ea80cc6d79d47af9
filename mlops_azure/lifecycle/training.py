"""Training: run the pipeline, judge the candidate against the champion, register with lineage.

Backend-neutral: everything goes through a ``Workspace``. The evaluate step scores the candidate
and the champion on the same holdout; this module only decides and records.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlops_azure._files import atomic_write
from mlops_azure._prefetch import Prefetch
from mlops_azure.audit_events import (
    ChampionGateEvent,
    ResponsibleGateEvent,
    TrainEvent,
    record,
    resolve_actor,
)
from mlops_azure.config import ProjectConfig
from mlops_azure.contract import RESERVED_INPUTS, MitigationInputs, PartitionInputs
from mlops_azure.errors import (
    BaselineMissingError,
    GateFailed,
    MlopsError,
    NotFoundError,
    UserInputError,
)
from mlops_azure.lifecycle.baseline import Baseline, find_baseline
from mlops_azure.lifecycle.champion import GateDecision, decide, decide_partitions
from mlops_azure.lifecycle.contract_checks import check_declared_metric, check_training_outputs
from mlops_azure.lifecycle.data import resolve_training_data
from mlops_azure.lifecycle.model_card import store_card
from mlops_azure.lifecycle.provenance import environment_hash, git_commit
from mlops_azure.lifecycle.refs import parse_ref
from mlops_azure.lifecycle.responsible import (
    blocking_message,
    job_report,
    store_report,
    verdict,
)
from mlops_azure.lifecycle.schedules import repin_schedules
from mlops_azure.lifecycle.tuning import study_lineage
from mlops_azure.workspace import (
    DataAsset,
    InputValue,
    Job,
    JobStatus,
    Lineage,
    ModelVersion,
    PipelineSubmission,
    ProgressCallback,
    Study,
    Workspace,
)

log = logging.getLogger("mlops_azure.training")
#: What the responsible-ML gate imports after the pipeline (fairlearn brings scikit-learn and SciPy).
JUDGE_IMPORTS = ("pandas", "fairlearn.metrics", "mlops_azure.responsible")


class TrainingFailed(GateFailed):
    """The training job failed (a step exited non-zero, e.g. the data check said no)."""


@dataclass(frozen=True)
class TrainingOutcome:
    """What ``train`` did: the job, the gate's decision and the model it registered (if any)."""

    job: Job
    data: DataAsset
    decision: GateDecision
    baseline: Baseline | None
    model: ModelVersion | None
    metrics: Mapping[str, Any]
    #: The responsible-ML gate's verdict at registration (status, findings); None when
    #: ``mlops.yaml`` declares no ``responsible`` section or the champion gate said no.
    responsible: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "responsible": dict(self.responsible) if self.responsible is not None else None,
            "job_id": self.job.id,
            "data": self.data.ref,
            "champion": self.baseline.model.ref if self.baseline else None,
            "champion_source": self.baseline.source if self.baseline else None,
            "decision": self.decision.to_dict(),
            "registered": self.model.ref if self.model else None,
            "metrics": dict(self.metrics),
        }


def _pipeline_inputs(
    config: ProjectConfig, overrides: Mapping[str, InputValue]
) -> dict[str, InputValue]:
    for key in overrides:
        if key in RESERVED_INPUTS:
            raise UserInputError(f"--param {key}: '{key}' is set by mlops itself and cannot be overridden")
    found = config.partitions
    partitioned: dict[str, InputValue] = {} if found is None else PartitionInputs(
        partition_levels=",".join(found.levels),
        model_levels=",".join(found.model_levels or found.levels),
        min_partition_rows=found.min_rows, max_failed_partitions=found.max_failed,
        champion_metric=config.champion.metric, champion_direction=config.champion.direction,
        min_abs_improvement=config.champion.min_abs_improvement,
        min_rel_improvement=config.champion.min_rel_improvement).model_dump()
    mitigation = config.responsible.mitigation if config.responsible else None
    reweight: dict[str, InputValue] = (
        MitigationInputs(reweight_by=mitigation.reweight_by).model_dump()
        if mitigation and mitigation.reweight_by else {})
    return {**partitioned, **reweight, **config.training.params, **overrides}


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float)}


@dataclass(frozen=True)
class _Prepared:
    """Everything a training submission needs, resolved before anything is submitted."""

    submission: PipelineSubmission
    asset: DataAsset
    baseline: Baseline | None


class TrainingStillRunning(MlopsError):
    """``finish_training`` stopped waiting while the job still runs (exit 75: attach again)."""

    exit_code = 75

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} is still running: attach again")
        self.job = job


#: Job tags that carry the submission's choices to ``finish_training`` (tags are strings).
DATA_TAG, CHAMPION_TAG, CHAMPION_SOURCE_TAG = "data", "champion", "champion_source"
#: Job tags saying why a training ran (e.g. ``trigger: drift``, ``drift_report: 17``, or
#: ``trigger: data``, ``data_blob: landing/new-rows.csv@0x8D…``); they are copied into the
#: lineage of the model it registers.
REASON_TAGS = ("trigger", "drift_report", "data_blob", "schedule")


def _prepare(
    ws: Workspace, config: ProjectConfig, data: str | None, params: Mapping[str, InputValue],
    schema_dir: Path, because: Mapping[str, str] | None = None,
) -> _Prepared:
    inputs = _pipeline_inputs(config, params)
    pipeline_file = config.resolve(config.training.pipeline)
    check_declared_metric(config, pipeline_file)
    asset = resolve_training_data(ws, config, data)
    baseline = find_baseline(ws, config)
    schema_file = schema_dir / "schema.json"
    schema_file.write_text(config.data.data_schema.to_json(), encoding="utf-8")
    inputs["raw_data"] = ws.data.input(asset)
    inputs["schema"] = schema_file
    if baseline is not None:
        inputs["champion_model"] = ws.models.input(baseline.model)
    submission = PipelineSubmission(
        pipeline_file=pipeline_file,
        inputs=inputs,
        experiment=config.training.experiment,
        # The baseline travels with the job, so that a later finish_training judges against
        # the champion the evaluate step actually scored, not whatever serves by then.
        tags={DATA_TAG: asset.ref, CHAMPION_TAG: baseline.model.ref if baseline else "",
              CHAMPION_SOURCE_TAG: baseline.source if baseline else "",
              **{k: str(v) for k, v in (because or {}).items() if k in REASON_TAGS}},
    )
    return _Prepared(submission, asset, baseline)


def train(
    ws: Workspace,
    config: ProjectConfig,
    *,
    data: str | None = None,
    params: Mapping[str, InputValue] | None = None,
    progress: ProgressCallback | None = None,
    actor: str | None = None,
    because: Mapping[str, str] | None = None,
) -> TrainingOutcome:
    """Run the training pipeline, apply the champion gate, and register when the gate says so.

    ``data`` is a data asset ``NAME[:VERSION]``; by default ``data.path`` is uploaded as the
    next version of ``data.asset`` (or reused when its content is unchanged). ``because``
    (keys of :data:`REASON_TAGS`) says why it runs, on the job and in the model's lineage. The
    same as :func:`submit_training` followed by :func:`finish_training`, in one process.
    """
    actor = resolve_actor(actor)
    with tempfile.TemporaryDirectory(prefix="mlops-train-") as tmp:
        prepared = _prepare(ws, config, data, params or {}, Path(tmp), because)
        # The gates' imports load while the steps run (they are ~1.5 s of mlops's own time).
        with Prefetch(JUDGE_IMPORTS if config.responsible else ()):
            job = ws.jobs.run_pipeline(prepared.submission, progress)
    outcome = _judge(ws, config, job, prepared.asset, prepared.baseline, actor, attached=False)
    _repin(ws, config, outcome, actor)
    return outcome


def submit_training(
    ws: Workspace,
    config: ProjectConfig,
    *,
    data: str | None = None,
    params: Mapping[str, InputValue] | None = None,
    because: Mapping[str, str] | None = None,
) -> Job:
    """Resolve the data and the champion, submit the training pipeline and return the job
    without waiting (the embedded workspace, which has no job service, runs it to the end).

    The job's tags record the data asset and the champion, for :func:`finish_training`, and
    ``because`` as in :func:`train`.
    """
    with tempfile.TemporaryDirectory(prefix="mlops-train-") as tmp:
        # Local files are copied or uploaded by the workspace at submission, so the temporary
        # schema file may go once submit_pipeline returns.
        prepared = _prepare(ws, config, data, params or {}, Path(tmp), because)
        return ws.jobs.submit_pipeline(prepared.submission)


def finish_training(
    ws: Workspace,
    config: ProjectConfig,
    job_id: str,
    *,
    timeout_s: float | None = None,
    progress: ProgressCallback | None = None,
    actor: str | None = None,
) -> TrainingOutcome:
    """Wait for a job from :func:`submit_training` (at most ``timeout_s``), then apply the champion
    gate against the champion recorded at submission and register when the gate says so.

    Raises ``TrainingStillRunning`` when the job has not ended in time. Finishing a job whose model
    is already registered returns that version instead of registering it twice.
    """
    actor = resolve_actor(actor)
    job = ws.jobs.wait(job_id, progress, timeout_s)
    if not job.status.is_terminal:
        raise TrainingStillRunning(job)
    tags = job.tags
    if DATA_TAG not in tags or CHAMPION_TAG not in tags:
        raise UserInputError(f"job {job_id} was not submitted by 'mlops train' "
                             "(it has no data and champion tags)")
    data_name, data_version = parse_ref(tags[DATA_TAG], what="data asset")
    asset = ws.data.get(data_name, data_version)
    baseline = None
    if tags[CHAMPION_TAG]:
        name, version = parse_ref(tags[CHAMPION_TAG], what="model")
        try:
            champion = ws.models.get(name, version)
        except NotFoundError:
            raise BaselineMissingError(
                f"job {job_id} was judged against champion {tags[CHAMPION_TAG]}, which is no "
                "longer in the registry: the candidate cannot be judged"
            ) from None
        source: Literal["production", "latest"] = (
            "production" if tags.get(CHAMPION_SOURCE_TAG) == "production" else "latest")
        baseline = Baseline(champion, source)
    outcome = _judge(ws, config, job, asset, baseline, actor, attached=True)
    _repin(ws, config, outcome, actor)
    return outcome


def _repin(ws: Workspace, config: ProjectConfig, outcome: TrainingOutcome, actor: str) -> None:
    """New data was trained on, maybe a new champion registered: schedules the workspace pinned
    at creation take them (lifecycle.schedules). The training stands even when this fails."""
    try:
        repin_schedules(ws, config, f"job {outcome.job.id} trained on {outcome.data.ref}",
                        actor=actor)
    except MlopsError as exc:
        log.warning("training schedules not re-pinned: %s", exc.message)


def _already_registered(ws: Workspace, config: ProjectConfig, job: Job) -> ModelVersion | None:
    return next((m for m in ws.models.versions(config.model.name) if m.lineage.job_id == job.id), None)


def _judge(
    ws: Workspace,
    config: ProjectConfig,
    job: Job,
    asset: DataAsset,
    baseline: Baseline | None,
    actor: str,
    *,
    attached: bool,
) -> TrainingOutcome:
    """The champion gate on a finished job's metrics, then registration when it says so.

    ``attached``: the job may have been finished before (a retried attach), so look for its model.
    """
    if job.status is not JobStatus.COMPLETED:
        record(ws, TrainEvent(subject=job.id, status=job.status.value, error=job.error), actor=actor)
        raise TrainingFailed(f"training job {job.id} failed: {job.error or 'no error recorded'}")

    metrics = check_training_outputs(ws, config, job)
    champion_metrics = metrics.get("champion")
    if baseline is not None and not isinstance(champion_metrics, dict):
        raise BaselineMissingError(
            f"job {job.id}: the evaluate step did not score champion {baseline.model.ref}, "
            "so the candidate cannot be judged"
        )
    if isinstance(metrics.get("partitions"), dict):
        decision = decide_partitions(config.champion, metrics,
                                     champion_ref=baseline.model.ref if baseline else None)
    else:
        decision = decide(
            config.champion,
            metrics["candidate"],
            champion_metrics if baseline is not None else None,
            champion_ref=baseline.model.ref if baseline else None,
        )
    model = _already_registered(ws, config, job) if attached and decision.register else None
    if model is not None:
        # An attach that is retried after it registered: same answer, nothing recorded twice.
        return TrainingOutcome(job, asset, decision, baseline, model, metrics)
    record(ws, ChampionGateEvent(
        subject=job.id, verdict=decision.verdict, metric=decision.metric,
        direction=decision.direction, candidate=decision.candidate,
        abs_improvement=decision.abs_improvement, rel_improvement=decision.rel_improvement,
        reason=decision.reason, partitions=decision.partitions, register=decision.register,
        champion=baseline.model.ref if baseline else None,
        champion_source=baseline.source if baseline else None, data=asset.ref), actor=actor)
    report = job_report(ws, config, job, metrics) if decision.register else None
    responsible = verdict(report).to_dict() if report is not None else None
    if report is not None and responsible is not None:
        judged = verdict(report)
        record(ws, ResponsibleGateEvent(
            subject=job.id, status=judged.status, at=judged.at,
            findings=tuple(f.to_dict() for f in judged.findings),
            policy=None if judged.policy is None else dict(judged.policy), data=asset.ref),
            actor=actor)
        if verdict(report).blocked:
            # The champion gate's "better" stands, but the version is not registered.
            message = blocking_message(verdict(report), f"job {job.id}'s candidate")
            return TrainingOutcome(job, asset, decision, baseline, None, metrics,
                                   {**responsible, "message": message})
    if decision.register:
        model = ws.models.register(
            config.model.name,
            job_id=job.id,
            output="model",
            metrics=_numbers(metrics["candidate"]),
            lineage=_lineage(config, job, asset, job.inputs, actor, metrics, ws.jobs.studies(job.id)),
            tags={"champion_gate": decision.verdict,
                  "champion": baseline.model.ref if baseline else "none",
                  # Many models: what the per-partition gate did, readable in `models show`.
                  **({"partitions": ", ".join(f"{v} {k}" for k, v in
                                              sorted(decision.partitions.items()))}
                     if decision.partitions else {})},
            description=config.model.description,
        )
        if report is not None:
            store_report(ws, model, report)
            store_card(ws, config, model, report)
    return TrainingOutcome(job, asset, decision, baseline, model, metrics, responsible)


def _lineage(
    config: ProjectConfig,
    job: Job,
    asset: DataAsset,
    inputs: Mapping[str, Any],
    actor: str,
    metrics: Mapping[str, Any],
    studies: Sequence[Study] = (),
) -> Lineage:
    holdout = metrics.get("holdout") or {}
    params = {k: v for k, v in inputs.items() if k not in RESERVED_INPUTS}
    for study in studies:  # the best trial's values are what the registered model was trained with
        best = study.best
        params.update(best.params if best else {})
    return Lineage(
        data_asset=asset.name,
        data_version=asset.version,
        data_sha256=asset.sha256,
        code_commit=git_commit(config.root),
        job_id=job.id,
        params=params,
        # Every environment definition of the project: the steps' conda files are among them.
        environment_hash=environment_hash(*config.resolve(Path("environments")).glob("*.yml")),
        creator=actor,
        pipeline=str(config.training.pipeline),
        extra={**{f"holdout_{k}": str(v) for k, v in holdout.items()},
               **{k: str(job.tags[k]) for k in REASON_TAGS if job.tags.get(k)},
               **study_lineage(studies)},
    )


def write_model_json(path: Path, model: ModelVersion) -> None:
    """The hand-over file between DevOps stages: an explicit name and version, never 'latest'."""
    atomic_write(path, (json.dumps({"name": model.name, "version": model.version}) + "\n").encode())
