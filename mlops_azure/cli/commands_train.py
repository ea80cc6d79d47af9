"""``mlops train``: the training pipeline, the champion gate and registration."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE
from mlops_azure.errors import GateFailed, UserInputError

if TYPE_CHECKING:
    from mlops_azure.lifecycle.training import TrainingOutcome
    from mlops_azure.workspace import InputValue, JobEvent


def parse_params(pairs: list[str]) -> dict[str, InputValue]:
    """``key=value`` pairs with numbers and booleans typed as such."""
    params: dict[str, InputValue] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UserInputError(f"--param '{pair}': expected KEY=VALUE")
        value: InputValue = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(raw)
                    break
                except ValueError:
                    continue
        params[key.strip()] = value
    return params


class TrialBar:
    """A sweep's trials as a progress bar with the best value so far (on a terminal only: in a log,
    each finished trial is its own line)."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def update(self, step: str, done: int, total: int, best: str) -> None:
        if self._bar is None:
            self._bar = Progress(TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[best]}"), TimeElapsedColumn(),
                                 console=output.err_console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(f"{step} trials", total=total, best="")
        assert self._task is not None
        self._bar.update(self._task, completed=done, total=total, best=f"best {best}" if best else "")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


_TRIALS = TrialBar()


def print_progress(event: JobEvent) -> None:
    """Step-by-step progress on stderr, so stdout stays clean for --json."""
    from mlops_azure.records_tuning import trial_progress

    colour = {"Running": "cyan", "Completed": "green", "Failed": "red", "Skipped": "yellow"}
    status = event.status.value
    step = event.step or "job"
    trials = trial_progress(event.message) if event.message else None
    if trials is not None and output.err_console.is_terminal:
        _TRIALS.update(step, *trials)
        return
    if status != "Running":
        _TRIALS.close()
    detail = f" {event.message}" if event.message and status != "Failed" else ""
    output.err_console.print(f"  [{colour.get(status, 'white')}]{status:<9}[/] {step}{detail}")


def train(
    data: Annotated[
        str | None, typer.Option(help="Data asset NAME[:VERSION] (default: upload data.path).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Override a pipeline input, KEY=VALUE (repeatable)."),
    ] = None,
    model_json: Annotated[
        Path, typer.Option(help="Where to write {name, version} for the next stage.")
    ] = Path("model.json"),
    fail_if_not_better: Annotated[
        bool, typer.Option("--fail-if-not-better",
                           help="Exit 1 when the champion gate keeps the current model.")
    ] = False,
    submit_only: Annotated[
        bool, typer.Option("--submit-only",
                           help="Submit the training job, print its id and return at once.")
    ] = False,
    attach: Annotated[
        str | None, typer.Option("--attach", metavar="JOB_ID",
                                 help="Finish a job from --submit-only: wait, gate, register.")
    ] = None,
    wait_minutes: Annotated[
        float | None, typer.Option("--wait-minutes", min=0,
                                   help="With --attach: stop waiting after M minutes (exit 75).")
    ] = None,
) -> None:
    """Run the training pipeline, compare with the champion, register if better; prints NAME:VERSION.

    For long jobs on short-lived agents: `mlops train --submit-only` prints the job id, then
    `mlops train --attach JOB_ID --wait-minutes 50` finishes it, or exits 75 while it still runs.
    """
    from mlops_azure.lifecycle.training import TrainingStillRunning

    if submit_only and attach:
        raise UserInputError("--submit-only and --attach exclude each other")
    if wait_minutes is not None and not attach:
        raise UserInputError("--wait-minutes only applies with --attach JOB_ID")
    if attach and (data or param):
        raise UserInputError("--attach finishes a submitted job: its data and params are fixed, "
                             "drop --data and --param")
    project = STATE.project()
    ws = project.workspace
    if submit_only:
        output.err_console.print(f"submitting training of [bold]{project.config.model.name}[/] on "
                                 f"the {ws.backend} workspace")
        job = project.submit_training(data=data, params=parse_params(param or []))
        if STATE.json:
            output.emit_json({"job_id": job.id, "status": job.status.value})
        else:
            output.console.print(job.id, markup=False, highlight=False)
        return
    if attach:
        output.err_console.print(f"attaching to training job [bold]{attach}[/] on the "
                                 f"{ws.backend} workspace")
        timeout = None if wait_minutes is None else wait_minutes * 60
        try:
            outcome = project.finish_training(attach, timeout_s=timeout, progress=print_progress)
        except TrainingStillRunning as exc:
            if STATE.json:
                output.emit_json({"job_id": exc.job.id, "status": exc.job.status.value,
                                  "finished": False})
            output.err_console.print(exc.message, markup=False, highlight=False)
            raise typer.Exit(exc.exit_code) from None
    else:
        output.err_console.print(f"training [bold]{project.config.model.name}[/] on the "
                                 f"{ws.backend} workspace")
        outcome = project.train(data=data, params=parse_params(param or []), progress=print_progress)
    _conclude(outcome, model_json, fail_if_not_better)


def _conclude(outcome: TrainingOutcome, model_json: Path, fail_if_not_better: bool) -> None:
    """What every finished training does: model.json, DevOps variables, the report, the exit code."""
    from mlops_azure.lifecycle.training import write_model_json

    if outcome.model is not None:
        write_model_json(model_json, outcome.model)
    _announce_to_devops(outcome)
    if STATE.json:
        output.emit_json(outcome.to_dict())
    else:
        _render(outcome, model_json)
    blocked = outcome.responsible is not None and outcome.responsible.get("status") == "block"
    if blocked and outcome.responsible is not None:
        # A policy violation fails the run whatever --fail-if-not-better says.
        raise GateFailed(str(outcome.responsible.get("message")))
    if outcome.model is None and fail_if_not_better:
        raise GateFailed(f"champion gate: {outcome.decision.reason}")


def _render(outcome: TrainingOutcome, model_json: Path) -> None:
    decision = outcome.decision
    output.fields("Champion gate", {
        "job": outcome.job.id,
        "data": outcome.data.ref,
        "champion": (f"{outcome.baseline.model.ref} ({outcome.baseline.source})"
                     if outcome.baseline else "none"),
        f"candidate {decision.metric}": f"{decision.candidate:.4f}",
        f"champion {decision.metric}": (f"{decision.champion:.4f}"
                                        if decision.champion is not None else ""),
        "decision": decision.reason,
        **({"responsible ML": _responsible_line(outcome.responsible)}
           if outcome.responsible is not None else {}),
    })
    if outcome.model is not None:
        output.say(f"registered [bold green]{outcome.model.ref}[/] (written to {model_json})")
    else:
        output.say("[yellow]not registered[/]: the current model stays")


def _responsible_line(verdict: Mapping[str, Any]) -> str:
    findings = [str(f.get("message")) for f in verdict.get("findings", [])]
    status = str(verdict.get("status"))
    return status if not findings else f"{status}: " + "; ".join(findings)


#: The build tag a training run gets when it registered a model; release.yml's pipeline-resource
#: trigger filters on it, so a run that kept the champion starts no release.
REGISTERED_BUILD_TAG = "mlops-model-registered"


def _announce_to_devops(outcome: TrainingOutcome) -> None:
    """Set output variables (and tag the run when a model was registered) inside an Azure DevOps
    job (TF_BUILD is set there)."""
    if os.environ.get("TF_BUILD", "").lower() != "true":
        return
    # The agent reads logging commands from stdout; under --json keep stdout pure JSON.
    console = output.err_console if STATE.json else output.console
    registered = "true" if outcome.model is not None else "false"
    console.print(f"##vso[task.setvariable variable=registered;isOutput=true]{registered}",
                  markup=False, highlight=False, soft_wrap=True)
    if outcome.model is not None:
        console.print(f"##vso[task.setvariable variable=model;isOutput=true]{outcome.model.ref}",
                      markup=False, highlight=False, soft_wrap=True)
        console.print(f"##vso[build.addbuildtag]{REGISTERED_BUILD_TAG}",
                      markup=False, highlight=False, soft_wrap=True)
