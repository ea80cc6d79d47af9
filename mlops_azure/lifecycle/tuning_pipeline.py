"""``tuning:`` applied: the training pipeline with one step turned into an Azure ML sweep step.

The pipeline file stays as the user wrote it. A copy goes into a temporary folder with the named
command step replaced by a ``type: sweep`` step over the same component, its swept inputs unbound,
``objective`` from ``tuning.metric`` / ``tuning.goal`` (default: the champion metric and
direction), and the trial told which metric to report when its component takes
``validation_metric``. Every relative path of the copy (components, path defaults) is made
absolute, so the copy runs from anywhere, locally and on Azure ML alike. The sweep settings are
checked here, with errors naming ``mlops.yaml``'s keys rather than the copy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from mlops_azure import _yaml
from mlops_azure.config import ProjectConfig, TuningConfig
from mlops_azure.errors import UserInputError
from mlops_azure.execution.definition import load_component
from mlops_azure.execution.sweep_definition import parse_sweep


def _absolute(ref: Any, folder: Path) -> Any:
    if not isinstance(ref, str) or ref.startswith("azureml:") or "://" in ref:
        return ref
    path = Path(ref.removeprefix("file:"))
    return ref if path.is_absolute() else os.path.normpath(folder / path)


def sweep_node(tuning: TuningConfig, config: ProjectConfig, job: dict[str, Any], folder: Path,
               where: str) -> dict[str, Any]:
    """The ``type: sweep`` step replacing command step ``job`` of a pipeline in ``folder``."""
    component_file = Path(_absolute(job["component"], folder))
    component = load_component(component_file)
    inputs = {k: v for k, v in (job.get("inputs") or {}).items() if k not in tuning.search_space}
    metric = tuning.metric or config.champion.metric
    if "validation_metric" in component.inputs:
        inputs["validation_metric"] = metric
    if tuning.validation_share is not None:
        if "validation_share" not in component.inputs:
            raise UserInputError(f"{where}.validation_share: component {component.shown} has no "
                                 "validation_share input")
        inputs["validation_share"] = tuning.validation_share
    limits = tuning.limits.model_dump(exclude_none=True)
    node: dict[str, Any] = {
        "type": "sweep", "trial": str(component_file), "inputs": inputs,
        "outputs": job.get("outputs") or {},
        "sampling_algorithm": tuning.sampling_algorithm, "search_space": tuning.search_space,
        "objective": {"goal": tuning.goal or config.champion.direction, "primary_metric": metric},
        "limits": limits,
    }
    if tuning.early_termination is not None:
        node["early_termination"] = tuning.early_termination
    if isinstance(job.get("display_name"), str):
        node["display_name"] = job["display_name"]
    parse_sweep(node, component.inputs, where)  # the settings' errors name mlops.yaml's keys
    return node


def tuned_pipeline(config: ProjectConfig, pipeline_file: Path, work_dir: Path) -> Path:
    """``pipeline_file`` with ``tuning.step`` swept, written to ``work_dir``; the file itself
    when the project declares no ``tuning``."""
    tuning = config.tuning
    if tuning is None:
        return pipeline_file
    where = f"{config.root / 'mlops.yaml'}: tuning"
    shown = os.path.normpath(pipeline_file)
    try:
        raw = _yaml.load(pipeline_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return pipeline_file  # the pipeline's own loader reports what is wrong with it
    jobs = raw.get("jobs") if isinstance(raw, dict) else None
    if not isinstance(jobs, dict):
        return pipeline_file
    declared = [name for name, job in jobs.items() if isinstance(job, dict) and job.get("type") == "sweep"]
    if declared:
        raise UserInputError(f"{where}: {shown} already sweeps step '{declared[0]}'; declare the sweep "
                             "in one place, mlops.yaml's tuning or the pipeline file")
    job = jobs.get(tuning.step)
    if not isinstance(job, dict) or job.get("type", "command") != "command" or "component" not in job:
        commands = [n for n, j in jobs.items()
                    if isinstance(j, dict) and j.get("type", "command") == "command"]
        raise UserInputError(f"{where}.step: {shown} has no command step '{tuning.step}' "
                             f"(its command steps: {', '.join(commands) or 'none'})")
    folder = pipeline_file.resolve().parent
    for name, other in jobs.items():
        if isinstance(other, dict):
            for key in ("component", "trial"):
                if key in other:
                    other[key] = _absolute(other[key], folder)
            if name == tuning.step:
                jobs[name] = sweep_node(tuning, config, other, folder, where)
    for spec in (raw.get("inputs") or {}).values():
        if isinstance(spec, dict) and "path" in spec:
            spec["path"] = _absolute(spec["path"], folder)
    target = work_dir / pipeline_file.name
    target.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return target
