"""``mlops schedule``: schedule-driven retraining (Azure ML ``JobSchedule``; stored locally)."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE

app = typer.Typer(help="Retrain on a schedule.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Schedule name (replaces one of the same name).")],
    cron: Annotated[str | None, typer.Option(
        help="Five-field cron expression, e.g. '30 2 * * 1-5'.")] = None,
    every: Annotated[int | None, typer.Option(help="Run every N units (with --unit).")] = None,
    unit: Annotated[str | None, typer.Option(
        help="minute, hour, day, week or month (with --every).")] = None,
    time_zone: Annotated[str, typer.Option(help="IANA time zone of the trigger.")] = "UTC",
    data: Annotated[str | None, typer.Option(
        help="Data asset NAME (default: data.asset): its newest version when the run starts "
             "locally; on Azure ML the version current at creation.")] = None,
) -> None:
    """Retrain with the training pipeline on a cron or recurrence trigger.

    Examples: `mlops schedule create nightly --cron "30 2 * * 1-5" --time-zone Europe/Berlin`,
    `mlops schedule create weekly --every 1 --unit week`.
    """
    from mlops_azure.lifecycle import schedules

    config = STATE.config()
    ws = STATE.workspace(config)
    trigger = schedules.build_trigger(cron=cron, every=every, unit=unit, time_zone=time_zone)
    schedule = schedules.create_schedule(ws, config, name, trigger, data=data)
    asset = data or config.data.asset
    fires = ws.schedules.fires_itself
    hints = None if fires else schedules.local_alternatives(schedule, config, asset)
    if STATE.json:
        document = {**schedules.schedule_to_dict(schedule), "fires": fires}
        if hints is not None:
            document.update(run_due=hints.run_due, crontab=hints.crontab, devops=hints.devops)
        output.emit_json(document)
        return
    # Azure ML pins @latest to a version at creation (see lifecycle.schedules): show what is stored.
    data_input = output.plain(schedule.inputs.get("raw_data", asset))
    output.say(f"schedule [bold]{schedule.name}[/]: {output.plain(trigger.describe())}, trains on "
               f"{data_input}")
    if hints is None:
        return
    output.say("[yellow]note:[/] the local workspace stores schedules but does not fire them "
               "itself: 'mlops schedule run-due' runs those that are due, so put it in cron, or "
               "run this one from cron or Azure DevOps directly:")
    for title, text in (("crontab, every schedule", hints.run_due),
                        ("crontab, this schedule", hints.crontab),
                        ("Azure DevOps (training.yml)", hints.devops)):
        if text is None:
            output.say(f"  {title}: cron cannot say '{output.plain(trigger.describe())}'")
        else:
            output.say(f"[bold]{title}[/]")
            output.console.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command("run-due")
def run_due() -> None:
    """Embedded workspace: run every schedule whose trigger fired since it last ran, once
    (missed firings coalesce); each run trains with the champion gate. Exit 1 when one failed."""
    from mlops_azure.cli.commands_train import print_progress
    from mlops_azure.errors import GateFailed
    from mlops_azure.lifecycle.schedule_runs import run_due as run_due_schedules

    config = STATE.config()
    ws = STATE.workspace(config)
    runs = run_due_schedules(ws, config, progress=None if STATE.json else print_progress,
                             say=None if STATE.json else output.say)
    if STATE.json:
        output.emit_json([r.to_dict() for r in runs])
    elif not runs:
        output.say("no schedule is due")
    for run in runs if not STATE.json else []:
        output.say(f"schedule [bold]{run.schedule}[/]: " + (
            f"[red]failed[/]: {output.plain(run.error)}" if run.error else
            f"job {run.job_id} on {run.data}, champion gate {run.verdict}, registered "
            f"{run.registered or 'nothing'}"))
    failed = [r.schedule for r in runs if r.error]
    if failed:
        raise GateFailed(f"{len(failed)} of {len(runs)} due schedules failed: {', '.join(failed)}")


@app.command("settle")
def settle() -> None:
    """Judge and register what the workspace's own schedules trained (Azure ML fires them; the
    pipeline only trains): each finished, unsettled job fired by a schedule of this project goes
    through the champion gate and is registered with its lineage, once. Exit 1 when one failed."""
    from mlops_azure.errors import GateFailed
    from mlops_azure.lifecycle.schedule_settle import settle as settle_fired

    config = STATE.config()
    runs = settle_fired(STATE.workspace(config), config, say=None if STATE.json else output.say)
    if STATE.json:
        output.emit_json([r.to_dict() for r in runs])
    elif not runs:
        output.say("no fired job waits to be settled")
    for run in runs if not STATE.json else []:
        output.say(f"job {run.job_id} ({run.schedule}): " + (
            f"[red]failed[/]: {output.plain(run.error)}" if run.error else
            f"on {run.data}, champion gate {run.verdict}, registered {run.registered or 'nothing'}"))
    failed = [r.job_id for r in runs if r.error]
    if failed:
        raise GateFailed(f"{len(failed)} of {len(runs)} fired jobs failed: {', '.join(failed)}")


@app.command("list")
def list_schedules(
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Schedules, by name."""
    from mlops_azure.lifecycle.schedules import schedule_to_dict

    STATE.json = STATE.json or json_output
    found = STATE.workspace().schedules.all()
    if STATE.json:
        output.emit_json([schedule_to_dict(s) for s in found])
        return
    output.table("Schedules", ["name", "when", "experiment", "enabled", "created"],
                 [(s.name, s.trigger.describe(), s.experiment, "yes" if s.enabled else "no",
                   output.when(s.created_at)) for s in found],
                 optional=("created", "experiment"))


@app.command("delete")
def delete(name: Annotated[str, typer.Argument(help="Schedule name.")]) -> None:
    """Delete a schedule (exit 2 when it does not exist)."""
    from mlops_azure.lifecycle.schedules import delete_schedule

    delete_schedule(STATE.workspace(), name)
    if STATE.json:
        output.emit_json({"deleted": name})
    else:
        output.say(f"deleted schedule [bold]{name}[/]")
