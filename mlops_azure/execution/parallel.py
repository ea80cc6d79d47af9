"""Azure ML ``parallel`` steps, run here as command steps of the local parallel runtime.

The embedded runner runs command steps only. A parallel step (``type: parallel``: ``input_data``,
``partition_keys`` or ``mini_batch_size``, thresholds, ``retry_settings``, a ``run_function``
task with an ``entry_script``) becomes a command step with the same ports whose command runs
``mlops_azure.execution.parallel_run``, which calls the entry script's ``init()`` and
``run(mini_batch)`` the way Azure ML's parallel runtime does. The translation accepts both the
YAML shape (a component file) and the REST shape (what the SDK sends: ``partition_keys`` as a
JSON string, node-level overrides beside the component) — the simulated service uses it for
submitted jobs, ``mlops`` to check a parallel pipeline before submitting it.
"""

from __future__ import annotations

import json
import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mlops_azure import _yaml
from mlops_azure.errors import UserInputError

COMMAND_SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json"
RUNTIME = "mlops_azure.execution.parallel_run"
#: Settings a pipeline node may override on its parallel component.
SETTINGS = ("input_data", "partition_keys", "mini_batch_size", "error_threshold",
            "mini_batch_error_threshold", "logging_level", "retry_settings", "resources",
            "max_concurrency_per_instance", "environment_variables")
LOGGING_LEVELS = ("DEBUG", "INFO", "WARNING", "WARN")


def keys_of(value: Any) -> list[str]:
    """``partition_keys`` as YAML has them (a list) or as the SDK sends them (JSON text)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(k, str) and k for k in value):
        raise UserInputError(f"partition_keys must be a list of column names, not {value!r}")
    return list(value)


def settings_of(component: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    """The component's parallel settings with the node's overrides (None overrides nothing)."""
    merged = {key: component.get(key) for key in SETTINGS}
    merged.update({key: node[key] for key in SETTINGS if node.get(key) not in (None, {}, "")})
    task = {**dict(component.get("task") or {}), **{k: v for k, v in
                                                     dict(node.get("task") or {}).items() if v}}
    merged["task"] = task
    return merged


def check(where: str, settings: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
    """What Azure ML refuses in a parallel step, in one sentence each."""
    task = settings["task"]
    if str(task.get("type") or "run_function") != "run_function":
        raise UserInputError(f"{where}: task.type '{task.get('type')}' is not run_function")
    if not task.get("entry_script"):
        raise UserInputError(f"{where}: task.entry_script is required")
    source = str(settings.get("input_data") or "")
    name = source.replace("${{inputs.", "").replace("}}", "").strip()
    if not source.startswith("${{inputs.") or name not in inputs:
        raise UserInputError(f"{where}: input_data must be ${{{{inputs.NAME}}}} of a declared "
                             f"input, not {source!r}")
    kind = inputs[name].get("type") if isinstance(inputs[name], Mapping) else None
    if keys_of(settings.get("partition_keys")) and kind != "mltable":
        raise UserInputError(f"{where}: partition_keys need an mltable input_data "
                             f"(inputs.{name} is {kind})")
    for key in ("error_threshold", "mini_batch_error_threshold"):
        value = settings.get(key)
        if value is not None and int(value) < -1:
            raise UserInputError(f"{where}: {key} must be -1 (no limit) or more, not {value}")
    level = str(settings.get("logging_level") or "INFO").upper()
    if level not in LOGGING_LEVELS:
        raise UserInputError(f"{where}: logging_level '{level}' is not DEBUG, INFO or WARNING")
    retry = dict(settings.get("retry_settings") or {})
    if int(retry.get("max_retries", 0) or 0) < 0 or int(retry.get("timeout", 1) or 1) < 1:
        raise UserInputError(f"{where}: retry_settings need max_retries >= 0 and timeout >= 1")


def as_command(name: str, component: Mapping[str, Any], node: Mapping[str, Any],
               code_dir: Path) -> dict[str, Any]:
    """The command component that runs parallel step ``name`` with the local runtime."""
    settings = settings_of(component, node)
    inputs = dict(component.get("inputs") or {})
    check(f"parallel step {name}", settings, inputs)
    task = settings["task"]
    retry = dict(settings.get("retry_settings") or {})
    resources = dict(settings.get("resources") or {})
    workers = int(resources.get("instance_count", 1) or 1) * int(
        settings.get("max_concurrency_per_instance") or 1)
    words = ["python", "-m", RUNTIME,
             "--entry_script", shlex.quote(str(code_dir / str(task["entry_script"]))),
             "--input_data", str(settings["input_data"]),
             "--error_threshold", str(_int(settings.get("error_threshold"), -1)),
             "--mini_batch_error_threshold", str(_int(settings.get("mini_batch_error_threshold"), -1)),
             "--max_retries", str(_int(retry.get("max_retries"), 3)),
             "--timeout", str(_int(retry.get("timeout"), 60)),
             "--workers", str(max(1, workers)),
             "--logging_level", str(settings.get("logging_level") or "INFO")]
    keys = keys_of(settings.get("partition_keys"))
    if keys:
        words += ["--partition_keys", shlex.quote(",".join(keys))]
    elif settings.get("mini_batch_size"):
        words += ["--mini_batch_size", shlex.quote(str(settings["mini_batch_size"]))]
    if task.get("append_row_to"):
        words += ["--append_row_to", str(task["append_row_to"])]
    for variable, value in dict(settings.get("environment_variables") or {}).items():
        words += ["--env", shlex.quote(f"{variable}={value}")]
    command = " ".join(words) + " -- " + str(task.get("program_arguments") or "")
    return {"$schema": COMMAND_SCHEMA, "type": "command", "name": name,
            "inputs": inputs, "outputs": dict(component.get("outputs") or {}),
            "code": str(code_dir), "environment": task.get("environment"), "command": command}


def _int(value: Any, default: int) -> int:
    return default if value is None or value == "" else int(value)


def has_parallel_steps(pipeline_file: Path) -> bool:
    try:
        raw = _yaml.load(Path(pipeline_file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False  # load_pipeline reports it in its own words
    jobs = raw.get("jobs") if isinstance(raw, dict) else None
    return isinstance(jobs, dict) and any(
        isinstance(j, dict) and j.get("type") == "parallel" for j in jobs.values())


def command_view(pipeline_file: Path, work: Path) -> Path:
    """A copy of the pipeline in ``work`` with each parallel step as its command step (every
    component path made absolute); the file to give the embedded runner or its checks."""
    source = Path(pipeline_file).resolve()
    raw = _yaml.load(source.read_text(encoding="utf-8"))
    for step, job in dict(raw.get("jobs") or {}).items():
        if not isinstance(job, dict) or not isinstance(job.get("component"), str):
            continue
        component_file = (source.parent / job["component"]).resolve()
        job["component"] = str(component_file)
        if job.get("type") != "parallel":
            continue
        try:
            component = _yaml.load(component_file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise UserInputError(f"{source.name}: jobs.{step}.component {component_file} "
                                 f"cannot be read ({exc})") from None
        code = (component_file.parent / str((component.get("task") or {}).get("code") or ".")).resolve()
        converted = as_command(step, component, job, code)
        target = work / f"{step}.parallel.yml"
        target.write_text(yaml.safe_dump(converted, sort_keys=False), encoding="utf-8")
        raw["jobs"][step] = {"type": "command", "component": str(target),
                             **{k: v for k, v in job.items() if k in ("inputs", "outputs")}}
    view = work / source.name
    view.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return view


def checked_definition(pipeline_file: Path) -> Any:
    """``load_pipeline`` for any pipeline, parallel steps included (checked as their command
    steps; messages name the original file)."""
    from mlops_azure.execution.definition import load_pipeline

    if not has_parallel_steps(pipeline_file):
        return load_pipeline(Path(pipeline_file))
    with tempfile.TemporaryDirectory(prefix="mlops-parallel-") as work:
        view = command_view(Path(pipeline_file), Path(work))
        try:
            return load_pipeline(view)
        except UserInputError as exc:
            raise UserInputError(str(exc).replace(str(view), str(pipeline_file))) from None
