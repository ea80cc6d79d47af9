"""Run an Azure ML pipeline-job YAML locally: each step's command as a subprocess, in graph order.

The definition is the same file Azure ML runs (see ``definition``). Everything is checked
and every command rendered before the first step starts, so bad input never leaves a half-run
job behind. Layout of a job folder::

    <job_dir>/steps/<step>/user_logs/std_log.txt   stdout + stderr of the step
    <job_dir>/steps/<step>/outputs/<output>/       one folder per component output

A private job folder (0700, as in the embedded workspace) keeps what the run writes private:
folders 0700, files 0600, steps run with umask 077.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlops_azure._files import PRIVATE_UMASK, is_private, make_dirs, open_new
from mlops_azure.errors import UserInputError
from mlops_azure.execution.command_template import (
    PATH_TYPES,
    Literal,
    TemplateValue,
    check_constraints,
    coerce_primitive,
    output_paths,
)
from mlops_azure.execution.definition import (
    Binding,
    PipelineDefinition,
    PipelineInput,
    StepDefinition,
    load_component,
    load_pipeline,
    single_step,
)
from mlops_azure.execution.step_processes import PipelineInterrupted, group_ends_with_us, sigterm_interrupts
from mlops_azure.execution.sweep import SweepFailed, SweepRun, run_sweep, sample_params
from mlops_azure.workspace import JobStatus

#: How many non-empty log lines a failed step's error carries.
LOG_TAIL_LINES = 20

StepCallback = Callable[[str, JobStatus, str], None]
GivenValue = str | int | float | bool | Path | None


@dataclass(frozen=True)
class StepResult:
    """How one step ended; ``log_path`` exists for every step that was started."""

    name: str
    status: JobStatus
    started_at: datetime | None
    ended_at: datetime | None
    exit_code: int | None
    log_path: Path
    error: str | None


@dataclass(frozen=True)
class PipelineResult:
    """How the pipeline ended; ``outputs`` holds the pipeline outputs that were produced."""

    status: JobStatus
    steps: tuple[StepResult, ...]
    outputs: dict[str, Path]
    error: str | None


@dataclass(frozen=True)
class _Plan:
    """One step, fully resolved before anything runs."""

    name: str
    component: str  # name:version, for progress messages
    command: str
    cwd: Path
    log_path: Path
    output_dirs: dict[str, Path]  # one folder per output, created just before the step starts
    output_paths: dict[str, Path]  # what the command gets: the folder, or a file in it for uri_file
    sweep: SweepRun | None = None  # a sweep step: ``command`` is a sample trial's


def _resolve_path(value: GivenValue, type_: str, base: Path, where: str) -> Path:
    text = str(value)
    if isinstance(value, str):
        if text.startswith("azureml:") or "://" in text:
            raise UserInputError(f"{where}: {text} is a remote location; the local workspace needs a "
                                 "local path")
        text = text.removeprefix("file:")
    path = Path(text).expanduser()
    path = (path if path.is_absolute() else base / path).resolve()
    if not path.exists():
        raise UserInputError(f"{where}: {path} does not exist")
    if type_ == "uri_file" and not path.is_file():
        raise UserInputError(f"{where}: {path} is not a file (the input's type is uri_file)")
    if type_ == "uri_folder" and not path.is_dir():
        raise UserInputError(f"{where}: {path} is not a folder (the input's type is uri_folder)")
    return path


def _pipeline_value(
    spec: PipelineInput, given: GivenValue, definition: PipelineDefinition
) -> Path | Literal | None:
    where = f"{definition.shown}: input '{spec.name}'"
    # A value given by the caller is relative to the working directory, a default to the YAML file.
    value, base = (given, Path.cwd()) if given is not None else (spec.default, definition.folder)
    if value is None:
        if not spec.optional:
            raise UserInputError(f"{where} is required but has no value and no default")
        return None
    if spec.type in PATH_TYPES:
        return _resolve_path(value, spec.type, base, where)
    return coerce_primitive(value, spec.type, where)


def resolve_inputs(
    definition: PipelineDefinition, given: Mapping[str, GivenValue]
) -> dict[str, Path | Literal | None]:
    """The pipeline's input values: ``given`` over the declared defaults, checked and typed."""
    unknown = sorted(set(given) - set(definition.inputs))
    if unknown:
        known = ", ".join(definition.inputs) or "none"
        raise UserInputError(f"{definition.shown}: there is no pipeline input named '{unknown[0]}' "
                             f"(inputs: {known})")
    return {name: _pipeline_value(spec, given.get(name), definition)
            for name, spec in definition.inputs.items()}


def _step_inputs(
    definition: PipelineDefinition, step: StepDefinition, values: Mapping[str, Path | Literal | None],
    plans: Mapping[str, _Plan],
) -> dict[str, TemplateValue | None]:
    resolved: dict[str, TemplateValue | None] = {}
    for name, port in step.component.inputs.items():
        where = f"{definition.shown}: jobs.{step.name}.inputs.{name}"
        binding = step.inputs.get(name, Binding("literal"))
        value: GivenValue
        if binding.kind == "step_output":
            resolved[name] = plans[binding.source].output_paths[binding.output]  # made when it runs
            continue
        if binding.kind == "parent_input":
            value = values[binding.source]
            where = f"{definition.shown}: input '{binding.source}' (bound to jobs.{step.name}.inputs.{name})"
        else:
            value = binding.literal
        # Relative paths are relative to the YAML they are written in; given values are absolute by now.
        base = definition.folder
        if value is None:
            value = port.default  # Azure ML falls back to the component's default
            where = f"{step.component.shown}: inputs.{name}.default"
            base = step.component.file.resolve().parent
        if value is None:
            resolved[name] = None
        elif port.type in PATH_TYPES:
            resolved[name] = _resolve_path(value, port.type, base, where)
        else:
            resolved[name] = check_constraints(coerce_primitive(value, port.type, where), port, where)
    return resolved


def _plan(definition: PipelineDefinition, values: Mapping[str, Path | Literal | None],
          job_dir: Path) -> list[_Plan]:
    plans: dict[str, _Plan] = {}
    for name in definition.step_order:
        step = definition.steps[name]
        step_dir = job_dir / "steps" / name
        output_dirs = {out: step_dir / "outputs" / out for out in step.component.outputs}
        paths = output_paths(output_dirs, step.component.outputs)
        inputs = _step_inputs(definition, step, values, plans)
        sweep = None
        if step.sweep is not None:
            fixed = {k: v for k, v in inputs.items() if k not in step.sweep.search_space}
            sweep = SweepRun(name, definition.experiment_name, step.sweep, step.component.command,
                             step.component.file, step.component.code, fixed, step.component.outputs,
                             output_dirs, step_dir)
            inputs = {**fixed, **sample_params(step.sweep)}  # checks the template renders
        command = step.component.command.render(inputs, paths)
        label = f"{step.component.name}:{step.component.version}"
        plans[name] = _Plan(name, label, command, step.component.code, step_dir / "user_logs" / "std_log.txt",
                            output_dirs, paths, sweep)
    return list(plans.values())


def _now() -> datetime:
    return datetime.now(UTC)


def log_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` non-empty lines of a step log ("" when it cannot be read)."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


def _environment(job_dir: Path, step: str, env: Mapping[str, str] | None) -> dict[str, str]:
    full = {**os.environ, **(env or {})}
    # `python` in a command must be this interpreter: the environment lineage records.
    full["PATH"] = os.pathsep.join(p for p in (str(Path(sys.executable).parent), full.get("PATH")) if p)
    full.setdefault("PYTHONUNBUFFERED", "1")  # keeps stdout and stderr interleaved in order in the log
    full["AZUREML_RUN_ID"] = f"{job_dir.name}_{step}"
    full["AZUREML_ROOT_RUN_ID"] = job_dir.name
    full["AZUREML_PIPELINE_STEP"] = step
    return full


def _run_sweep_step(plan: _Plan, job_dir: Path, env: Mapping[str, str] | None, notify: StepCallback,
                    studies_dir: Path) -> StepResult:
    assert plan.sweep is not None
    settings = plan.sweep.settings
    notify(plan.name, JobStatus.RUNNING, f"sweeping {plan.component}: up to {settings.max_total_trials} "
           f"trials, {settings.sampling} sampling, {settings.goal} {settings.metric}")
    started = _now()
    with open_new(plan.log_path, "wb") as log, sigterm_interrupts():

        def progress(message: str) -> None:
            log.write(message.encode() + b"\n")
            log.flush()
            notify(plan.name, JobStatus.RUNNING, message)

        try:
            run_sweep(plan.sweep, studies_dir, job_dir.name, _environment(job_dir, plan.name, env), progress,
                      PRIVATE_UMASK if is_private(job_dir) else -1)
        except SweepFailed as exc:
            log.write(f"{exc}\n".encode())
            error = f"step '{plan.name}' failed: {exc}"
            notify(plan.name, JobStatus.FAILED, error)
            return StepResult(plan.name, JobStatus.FAILED, started, _now(), 1, plan.log_path, error)
    notify(plan.name, JobStatus.COMPLETED, f"completed in {(_now() - started).total_seconds():.1f} s")
    return StepResult(plan.name, JobStatus.COMPLETED, started, _now(), 0, plan.log_path, None)


def _run_step(plan: _Plan, job_dir: Path, env: Mapping[str, str] | None,
              notify: StepCallback, studies_dir: Path) -> StepResult:
    for folder in plan.output_dirs.values():
        make_dirs(folder)
    make_dirs(plan.log_path.parent)
    if plan.sweep is not None:
        return _run_sweep_step(plan, job_dir, env, notify, studies_dir)
    notify(plan.name, JobStatus.RUNNING, f"running component {plan.component}")
    started = _now()
    clock = time.monotonic()
    with open_new(plan.log_path, "wb") as log, sigterm_interrupts():
        try:
            process = subprocess.Popen(
                ["bash", "-c", plan.command], cwd=plan.cwd, env=_environment(job_dir, plan.name, env),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                umask=PRIVATE_UMASK if is_private(job_dir) else -1,
            )
        except OSError as exc:
            log.write(f"cannot start the command: {exc}\n".encode())
            error = f"step '{plan.name}' could not be started: {exc}"
            notify(plan.name, JobStatus.FAILED, error)
            return StepResult(plan.name, JobStatus.FAILED, started, _now(), None, plan.log_path, error)
        with group_ends_with_us(process):
            exit_code = process.wait()
    ended = _now()
    if exit_code == 0:
        notify(plan.name, JobStatus.COMPLETED, f"completed in {time.monotonic() - clock:.1f} s")
        return StepResult(plan.name, JobStatus.COMPLETED, started, ended, 0, plan.log_path, None)
    how = f"was killed by signal {-exit_code}" if exit_code < 0 else f"failed with exit code {exit_code}"
    tail = log_tail(plan.log_path)
    error = f"step '{plan.name}' {how}: {tail}" if tail else f"step '{plan.name}' {how} (its log is empty)"
    notify(plan.name, JobStatus.FAILED, error)
    return StepResult(plan.name, JobStatus.FAILED, started, ended, exit_code, plan.log_path, error)


def run_pipeline(
    pipeline_file: Path,
    inputs: Mapping[str, GivenValue],
    job_dir: Path,
    *,
    on_step: StepCallback | None = None,
    env: Mapping[str, str] | None = None,
    studies_dir: Path | None = None,
) -> PipelineResult:
    """Run every step of ``pipeline_file`` in dependency order and wait for the end.

    Bad definitions or inputs raise ``UserInputError`` before anything runs. A failing step ends
    the run: later steps are SKIPPED and the result is FAILED with the step's log tail. Ctrl-C or
    SIGTERM kills the running step's process group and propagates (SIGTERM as ``PipelineInterrupted``,
    a ``KeyboardInterrupt``).
    """
    return _execute(load_pipeline(Path(pipeline_file)), inputs, job_dir, on_step, env, studies_dir)


def run_component(
    component_file: Path,
    inputs: Mapping[str, GivenValue],
    work_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
) -> PipelineResult:
    """Run one command component on its own, as a one-step pipeline in ``work_dir``.

    Its outputs are in ``PipelineResult.outputs`` under the component's output names.
    """
    definition = single_step(load_component(Path(component_file)), list(inputs))
    return _execute(definition, inputs, work_dir, None, env, None)


def _execute(
    definition: PipelineDefinition,
    inputs: Mapping[str, GivenValue],
    job_dir: Path,
    on_step: StepCallback | None,
    env: Mapping[str, str] | None,
    studies_dir: Path | None,
) -> PipelineResult:
    values = resolve_inputs(definition, inputs)
    job_dir = Path(job_dir).resolve()  # commands run elsewhere, so every path must be absolute
    plans = _plan(definition, values, job_dir)
    if (job_dir / "steps").exists():
        raise UserInputError(f"{job_dir} already holds a run's steps; each run needs a fresh job folder")

    def notify(step: str, status: JobStatus, message: str) -> None:
        if on_step is not None:
            on_step(step, status, message)

    results: list[StepResult] = []
    failed: StepResult | None = None
    for plan in plans:
        if failed is not None:
            results.append(StepResult(plan.name, JobStatus.SKIPPED, None, None, None, plan.log_path, None))
            notify(plan.name, JobStatus.SKIPPED, f"skipped because step '{failed.name}' failed")
            continue
        result = _run_step(plan, job_dir, env, notify, studies_dir or job_dir / "studies")
        results.append(result)
        if result.status is JobStatus.FAILED:
            failed = result
    by_name = {plan.name: plan for plan in plans}
    done = {r.name for r in results if r.status is JobStatus.COMPLETED}
    outputs = {target: by_name[step].output_dirs[output]
               for target, (step, output) in definition.outputs.items() if step in done}
    return PipelineResult(JobStatus.FAILED if failed else JobStatus.COMPLETED, tuple(results), outputs,
                          failed.error if failed else None)


__all__ = ["PipelineDefinition", "PipelineInterrupted", "PipelineResult", "StepResult", "load_pipeline",
           "log_tail", "resolve_inputs", "run_component", "run_pipeline"]
