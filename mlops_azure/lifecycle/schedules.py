"""Schedule-driven retraining: a schedule that submits the training pipeline on the newest data.

The submission is built from mlops.yaml exactly as :func:`mlops_azure.lifecycle.training.train`
builds it (pipeline, experiment, training params, the schema file, the champion to beat) with
the training data given as ``azureml:<asset>@latest``, Azure ML's own reference syntax. Its tags
are the ones ``train`` writes (data, champion, ``trigger: schedule``), so a fired job can be
judged and registered later (:mod:`mlops_azure.lifecycle.schedule_settle`).

The embedded workspace stores the reference as is and ``mlops schedule run-due`` fires it with
a full ``train`` (newest data, current champion). Azure ML pins: azure-ai-ml resolves ``@latest``
when the schedule is created, and a schedule's job definition only takes
``${{creation_context.trigger_time}}`` and ``${{name}}`` as run-time expressions ("Schedule machine
learning pipeline jobs", Expressions supported in schedule) - nothing reads a data asset's newest
version at each firing. So a schedule whose stored data input is pinned is re-created with new
pins whenever a new data version or a new champion appears (:func:`repin_schedules`).
"""

from __future__ import annotations

import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_azure.audit_events import (
    ScheduleCreateEvent,
    ScheduleDeleteEvent,
    ScheduleRepinEvent,
    record,
)
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.baseline import Baseline, find_baseline
from mlops_azure.workspace import (
    InputValue,
    PipelineSubmission,
    Schedule,
    ScheduleTrigger,
    Workspace,
    is_asset_name,
)

#: Recurrence units accepted by ``--unit`` (a trailing "s" is forgiven: ``--unit days``).
UNITS = ("minute", "hour", "day", "week", "month")


def build_trigger(
    *, cron: str | None = None, every: int | None = None, unit: str | None = None,
    time_zone: str = "UTC",
) -> ScheduleTrigger:
    """A trigger from ``--cron EXPR`` or ``--every N --unit U``; the workspace checks the rest."""
    if cron is not None and (every is not None or unit is not None):
        raise UserInputError("give either --cron or --every/--unit, not both")
    if cron is not None:
        return ScheduleTrigger(cron=" ".join(cron.split()), time_zone=time_zone)
    if every is None or unit is None:
        raise UserInputError("a schedule needs --cron EXPR, or --every N with --unit "
                             f"({'|'.join(UNITS)})")
    word = unit.strip().lower()
    singular = word[:-1] if word.endswith("s") and word[:-1] in UNITS else word
    if singular not in UNITS:
        raise UserInputError(f"--unit '{unit}' is not one of {', '.join(UNITS)}")
    return ScheduleTrigger(frequency=singular, interval=every, time_zone=time_zone)


def latest_data_reference(asset: str) -> str:
    """Azure ML's reference to the newest version of a data asset (the embedded workspace
    resolves it when a run starts; azure-ai-ml resolves it when the schedule is created)."""
    return f"azureml:{asset}@latest"


#: The job tags ``train`` writes (lifecycle.training's DATA_TAG, CHAMPION_TAG,
#: CHAMPION_SOURCE_TAG), repeated here: training imports this module.
DATA_TAG, CHAMPION_TAG, CHAMPION_SOURCE_TAG = "data", "champion", "champion_source"


def training_submission(
    config: ProjectConfig, data: str, schema_dir: Path, *, name: str = "",
    newest: str = "", baseline: Baseline | None = None, champion_input: InputValue | None = None,
) -> PipelineSubmission:
    """The training pipeline's submission for schedule ``name`` (see the module docstring):
    ``newest`` is the data version ``@latest`` names now, ``baseline`` the champion to beat."""
    inputs: dict[str, InputValue] = dict(config.training.params)
    schema_file = schema_dir / "schema.json"
    schema_file.write_text(config.data.data_schema.to_json(), encoding="utf-8")
    inputs["raw_data"] = latest_data_reference(data)
    inputs["schema"] = schema_file
    if baseline is not None and champion_input is not None:
        inputs["champion_model"] = champion_input
    return PipelineSubmission(
        pipeline_file=config.resolve(config.training.pipeline),
        inputs=inputs,
        experiment=config.training.experiment,
        tags={"trigger": "schedule", "schedule": name, DATA_TAG: newest,
              CHAMPION_TAG: baseline.model.ref if baseline else "",
              CHAMPION_SOURCE_TAG: baseline.source if baseline else ""},
    )


def _submission(ws: Workspace, config: ProjectConfig, name: str, asset: str,
                schema_dir: Path) -> tuple[PipelineSubmission, str, Baseline | None]:
    newest = ws.data.versions(asset)[0].ref
    baseline = find_baseline(ws, config)
    champion = ws.models.input(baseline.model) if baseline else None
    submission = training_submission(config, asset, schema_dir, name=name, newest=newest,
                                     baseline=baseline, champion_input=champion)
    return submission, newest, baseline


def create_schedule(
    ws: Workspace,
    config: ProjectConfig,
    name: str,
    trigger: ScheduleTrigger,
    *,
    data: str | None = None,
    actor: str | None = None,
) -> Schedule:
    """Create (or replace) schedule ``name`` that retrains on the newest version of ``data``
    (default: ``data.asset``), which must already have a version."""
    asset = data or config.data.asset
    if not is_asset_name(asset):
        raise UserInputError(f"--data '{asset}' is not a data asset name (no version: each run "
                             "takes the newest)")
    if not ws.data.versions(asset):
        raise UserInputError(f"data asset '{asset}' has no version yet: upload one first "
                             f"with 'mlops data upload PATH --name {asset}'")
    # The workspace keeps the schema file itself (local: artifact store; Azure ML: uploaded at
    # creation), so a temporary copy is enough here.
    with tempfile.TemporaryDirectory(prefix="mlops-schedule-") as tmp:
        submission, _, _ = _submission(ws, config, name, asset, Path(tmp))
        schedule = ws.schedules.create(name, submission, trigger)
    record(ws, ScheduleCreateEvent(subject=name, trigger=trigger.describe(),
                                   data=latest_data_reference(asset), pipeline=schedule.pipeline),
           actor=actor)
    return schedule


def pinned_data(schedule: Schedule) -> tuple[str, int] | None:
    """The data asset and version the workspace pinned in ``schedule`` at creation, or None
    when it keeps ``@latest`` (the embedded workspace resolves it at each run)."""
    reference = str(schedule.inputs.get("raw_data", ""))
    name, sep, version = reference.removeprefix("azureml:").partition(":")
    if not reference.startswith("azureml:") or not sep or not version.isdigit():
        return None
    return name, int(version)


def repin_schedules(ws: Workspace, config: ProjectConfig, reason: str, *,
                    actor: str | None = None) -> list[str]:
    """Re-create each pinned training schedule of the project whose data version or champion is
    no longer the newest / current one (see the module docstring); the schedules re-created."""
    found = [(s, pinned_data(s)) for s in ws.schedules.all()
             if s.experiment == config.training.experiment]
    pinned = [(s, p) for s, p in found if p is not None]
    if not pinned:
        return []
    baseline = find_baseline(ws, config)
    champion = str(ws.models.input(baseline.model)) if baseline else ""
    done = []
    for schedule, (asset, version) in pinned:
        newest = ws.data.versions(asset)
        if newest and newest[0].version == version and \
                str(schedule.inputs.get("champion_model") or "") == champion:
            continue
        with tempfile.TemporaryDirectory(prefix="mlops-schedule-") as tmp:
            submission, data, _ = _submission(ws, config, schedule.name, asset, Path(tmp))
            ws.schedules.create(schedule.name, submission, schedule.trigger)
        record(ws, ScheduleRepinEvent(subject=schedule.name, data=data,
                                      champion=baseline.model.ref if baseline else None,
                                      reason=reason), actor=actor)
        done.append(schedule.name)
    return done


def delete_schedule(ws: Workspace, name: str, *, actor: str | None = None) -> None:
    """Delete schedule ``name`` and record it in the audit trail."""
    ws.schedules.delete(name)
    record(ws, ScheduleDeleteEvent(subject=name), actor=actor)


def schedule_to_dict(schedule: Schedule) -> dict[str, Any]:
    """A schedule as JSON-ready values."""
    trigger = schedule.trigger
    return {
        "name": schedule.name,
        "trigger": {"cron": trigger.cron, "frequency": trigger.frequency,
                    "interval": trigger.interval, "time_zone": trigger.time_zone},
        "when": trigger.describe(),
        "pipeline": schedule.pipeline,
        "experiment": schedule.experiment,
        "enabled": schedule.enabled,
        "created_at": schedule.created_at.isoformat(),
        "inputs": {k: str(v) if isinstance(v, Path) else v for k, v in schedule.inputs.items()},
    }


# -- what a user can run where no scheduler fires the schedule ----------------------------------
def as_cron(trigger: ScheduleTrigger) -> str | None:
    """The trigger as a five-field cron expression, or None when cron cannot say it exactly
    (every N weeks for N > 1)."""
    if trigger.cron:
        return trigger.cron
    n = trigger.interval
    step = "*" if n == 1 else f"*/{n}"
    return {
        "minute": f"{step} * * * *",
        "hour": f"0 {step} * * *",
        "day": f"0 0 {'*' if n == 1 else f'1-31/{n}'} * *",
        "week": "0 0 * * 0" if n == 1 else None,
        "month": f"0 0 1 {'*' if n == 1 else f'1-12/{n}'} *",
    }.get(trigger.frequency or "")


def in_project(config: ProjectConfig, *args: str) -> str:
    """A shell line that runs ``mlops ARGS`` in the project's folder (for cron, DevOps)."""
    return (f"cd {shlex.quote(str(config.root.resolve()))} && mlops "
            + " ".join(shlex.quote(a) for a in args))


def _retrain_command(config: ProjectConfig, data: str) -> str:
    # NAME without a version: mlops train takes the newest version, as the schedule would.
    return in_project(config, "train", "--data", data)


def crontab_line(schedule: Schedule, config: ProjectConfig, data: str) -> str | None:
    """A crontab entry that retrains like the schedule (with cronie's ``CRON_TZ`` when not UTC)."""
    expression = as_cron(schedule.trigger)
    if expression is None:
        return None
    zone = schedule.trigger.time_zone
    prefix = "" if zone == "UTC" else f"CRON_TZ={zone}\n"
    return f"{prefix}{expression} {_retrain_command(config, data)}"


def devops_schedule_entry(schedule: Schedule) -> str | None:
    """An Azure DevOps ``schedules:`` entry for .azure-pipelines/training.yml (cron is UTC there)."""
    expression = as_cron(schedule.trigger)
    if expression is None:
        return None
    note = ("" if schedule.trigger.time_zone == "UTC"
            else f"  # Azure DevOps reads cron in UTC: shift from {schedule.trigger.time_zone}\n")
    return (f"schedules:\n{note}  - cron: \"{expression}\"\n    displayName: {schedule.name}\n"
            "    branches:\n      include: [main]\n    always: true\n")


def run_due_line(config: ProjectConfig, every_minutes: int = 5) -> str:
    """A crontab entry that fires every due schedule of the project's embedded workspace."""
    return f"*/{every_minutes} * * * * {in_project(config, 'schedule', 'run-due')}"


@dataclass(frozen=True)
class LocalAlternatives:
    """What to use instead on a workspace that does not fire schedules by itself."""

    run_due: str
    crontab: str | None
    devops: str | None


def local_alternatives(schedule: Schedule, config: ProjectConfig, data: str) -> LocalAlternatives:
    """The run-due crontab line, and this schedule's own crontab line and Azure DevOps entry."""
    return LocalAlternatives(run_due_line(config), crontab_line(schedule, config, data),
                             devops_schedule_entry(schedule))
