"""The project contract (``mlops_azure.contract``) checked around a training run: the champion
metric against what the evaluate component declares before anything is submitted, and the
job's outputs right after it ends, before the champion gate reads them.

Each problem is one ``UserInputError`` sentence naming the file and the field: the project
wrote the wrong thing, so it is the project's input that is at fault.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlops_azure.config import ProjectConfig
from mlops_azure.contract import (
    FEATURES_FILE,
    METRICS_FILE,
    METRICS_TAG,
    MITIGATION_FILE,
    PARITY_FILE,
    REFERENCE_PREDICTIONS_FILE,
    REQUIRED_MODEL_FILES,
    FeaturesFile,
    MetricsFile,
    MitigationFile,
    ParityFile,
    ReferencePredictionsFile,
    declared_metrics,
    find_in_model,
    load_json,
    read_document,
    validate,
)
from mlops_azure.errors import UserInputError
from mlops_azure.execution.definition import PipelineDefinition, StepDefinition, load_pipeline
from mlops_azure.workspace import Job, Workspace

#: How each model-folder file the tool reads is checked (required ones must exist).
MODEL_FILES: dict[str, type[Any]] = {
    PARITY_FILE: ParityFile, REFERENCE_PREDICTIONS_FILE: ReferencePredictionsFile,
    FEATURES_FILE: FeaturesFile, MITIGATION_FILE: MitigationFile}


def shown_path(path: Path, root: Path) -> str:
    """``path`` relative to the project ``root`` when inside it, as messages name files."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return os.path.normpath(path)


def evaluate_step(pipeline: PipelineDefinition) -> StepDefinition | None:
    """The step whose output becomes the pipeline output ``metrics`` (None when none does)."""
    found = pipeline.outputs.get("metrics")
    return pipeline.steps[found[0]] if found else None


def undeclared_metric(config: ProjectConfig, pipeline: PipelineDefinition) -> str | None:
    """Why ``champion.metric`` is not among the evaluate component's declared metrics, or None
    (also when the component declares none: the run's metrics.json is checked instead)."""
    step = evaluate_step(pipeline)
    declared = (declared_metrics(step.component.tags, config.model.task)
                if step is not None else None)
    if step is None or declared is None or config.champion.metric in declared:
        return None
    return (f"champion.metric '{config.champion.metric}' is not among the metrics "
            f"{shown_path(step.component.file, config.root)} declares "
            f"({', '.join(declared) or f'its {METRICS_TAG} tag is empty'})")


def check_declared_metric(config: ProjectConfig, pipeline_file: Path) -> None:
    """Before submitting: ``UserInputError`` when the evaluate step cannot write the champion
    metric. A definition the local parser cannot read (e.g. a registered component) is left to
    the backend that runs it."""
    try:
        pipeline = load_pipeline(pipeline_file)
    except UserInputError:
        return
    problem = undeclared_metric(config, pipeline)
    if problem is not None:
        raise UserInputError(problem)


def check_metrics(config: ProjectConfig, folder: Path, where: str) -> dict[str, Any]:
    """``metrics.json`` in ``folder`` checked against the contract and the config; the document."""
    shown = f"{where}{METRICS_FILE}"
    document = load_json(folder / METRICS_FILE, shown, UserInputError)
    metrics = validate(MetricsFile, document, shown, UserInputError)
    metric = config.champion.metric
    if metric not in metrics.candidate:
        have = ", ".join(sorted(metrics.candidate)) or "nothing"
        raise UserInputError(f"{shown}: field 'candidate' has no '{metric}' (champion.metric); "
                             f"it has {have}")
    if config.responsible is not None:
        if metrics.predictions is None:
            raise UserInputError(f"{shown} has no field 'predictions' (the per-row holdout "
                                 "predictions the responsible section needs)")
        if not (folder / metrics.predictions.file).is_file():
            raise UserInputError(f"{shown}: field 'predictions.file' names "
                                 f"{metrics.predictions.file}, which the step did not write")
    # The document as written (ints stay ints), now known to be what the contract says.
    return dict(document)


def check_model_folder(folder: Path, where: str) -> None:
    """The model folder holds the required files and every file the tool reads is valid."""
    if not folder.is_dir() or not any(folder.iterdir()):
        raise UserInputError(f"{where.rstrip('/ ')} is empty: the step wrote no model")
    for name, model in MODEL_FILES.items():
        found = find_in_model(folder, name) if name in REQUIRED_MODEL_FILES else folder / name
        if found is None or not found.is_file():
            if name in REQUIRED_MODEL_FILES:
                raise UserInputError(f"{where}{name} does not exist (every model folder needs it: "
                                     "see docs/project-contract.md)")
            continue
        shown = f"{where}{found.relative_to(folder).as_posix()}"
        read_document(model, found, shown, UserInputError)


def check_training_outputs(ws: Workspace, config: ProjectConfig, job: Job) -> dict[str, Any]:
    """Right after a Completed training job: its ``model`` and ``metrics`` outputs against the
    contract; the metrics document the gate judges. ``UserInputError`` naming file and field."""
    outputs = {}
    for name in ("metrics", "model"):
        try:
            outputs[name] = ws.jobs.output_path(job.id, name)
        except UserInputError as exc:
            raise UserInputError(f"job {job.id}: the pipeline has no output '{name}' that mlops "
                                 f"reads ({exc.message})") from None
    check_model_folder(outputs["model"], f"job {job.id}: output model/")
    return check_metrics(config, outputs["metrics"], f"job {job.id}: output metrics/")


__all__ = ["check_declared_metric", "check_metrics", "check_model_folder",
           "check_training_outputs", "evaluate_step", "undeclared_metric"]
