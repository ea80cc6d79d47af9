"""``mlops monitor drift``: the current data against the model's training data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE
from mlops_azure.errors import GateFailed

app = typer.Typer(help="Drift between the training data and what a model sees now.",
                  no_args_is_help=True)


@app.command("drift")
def drift(
    current: Annotated[str | None, typer.Option(
        "--current", help="Recent inference rows: a CSV file or azureml:NAME[:VERSION] "
                          "(default: what --stage recorded).")] = None,
    stage: Annotated[str | None, typer.Option(
        "--stage", "-s", help="Monitor the model serving this stage.")] = None,
    window: Annotated[str, typer.Option(
        help="With --stage and no --current: the recorded requests of the last 30m/12h/7d/2w.")
    ] = "7d",
    model: Annotated[str | None, typer.Option(
        help="Monitor this model version, NAME:VERSION (default: the stage's, else latest).")] = None,
    html: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write the JSON report here.")] = None,
    retrain: Annotated[bool, typer.Option(
        help="On drift, run the training pipeline (champion gate included); the model it "
             "registers names this report as the reason.")] = False,
) -> None:
    """Per-feature drift (PSI, Jensen-Shannon, Wasserstein, KS, chi-squared); exit 1 on drift."""
    import json

    from mlops_azure._files import atomic_write
    from mlops_azure.cli.commands_train import print_progress
    from mlops_azure.monitoring.html import render_html

    project = STATE.project()
    checked = project.drift(current, stage=stage, model=model, window=window)
    document = checked.to_dict()
    if retrain:
        outcome = project.retrain_on_drift(checked, progress=None if STATE.json else print_progress)
        if outcome is not None:
            document["retrain"] = outcome.to_dict()
    if report:
        atomic_write(report, (json.dumps(document, indent=2) + "\n").encode())
    if html:
        title = f"Drift of {checked.model.ref}: {checked.current} against {checked.reference}"
        atomic_write(html, render_html(checked.report, title).encode())
    if STATE.json:
        output.emit_json(document)
    else:
        output.table(f"Drift of {checked.model.ref} (report {checked.event_id}): "
                     f"{checked.current} against {checked.reference}",
                     ["feature", "kind", "PSI", "JS", "Wasserstein", "KS p", "chi² p", "missing",
                      "out of range", "drifted"],
                     [(f.feature, f.kind, f"{f.psi:.3f}", f"{f.js:.3f}",
                       "" if f.wasserstein is None else f"{f.wasserstein:.3f}",
                       "" if f.ks_p is None else f"{f.ks_p:.3g}",
                       "" if f.chi2_p is None else f"{f.chi2_p:.3g}",
                       f"{f.missing_current:.1%}", f"{f.out_of_range:.1%}",
                       "; ".join(f.reasons) or "no")
                      for f in checked.report.compared],
                     optional=("Wasserstein", "chi² p", "KS p", "out of range", "missing"))
    if "retrain" in document and not STATE.json:
        done = document["retrain"]
        output.say(f"retrained because of report {checked.event_id}: job {done['job_id']}, "
                   f"champion gate {done['decision']['verdict']}, registered "
                   f"{done['registered'] or 'nothing'}")
    verdict = checked.report.verdict
    if verdict.drifted:
        raise GateFailed(f"{verdict.reason}; report {checked.event_id}")
    if not STATE.json:
        output.say(output.plain(verdict.reason))


@app.command("setup")
def setup(
    stage: Annotated[str, typer.Option("--stage", "-s", help="Monitor this stage's live deployment.")],
    cron: Annotated[str | None, typer.Option(help="Five-field cron expression.")] = None,
    every: Annotated[int | None, typer.Option(help="Run every N units (with --unit).")] = None,
    unit: Annotated[str | None, typer.Option(
        help="minute, hour, day, week or month (with --every).")] = None,
    time_zone: Annotated[str, typer.Option(help="IANA time zone of the trigger.")] = "UTC",
    window: Annotated[str, typer.Option(
        help="Embedded workspace: the recorded requests each check reads (30m/12h/7d/2w).")] = "7d",
) -> None:
    """Drift checks that run by themselves: on Azure ML a MonitorSchedule (data and prediction
    drift against the serving model's training data, with mlops.yaml's thresholds); on the
    embedded workspace the crontab line to use.

    Example: `mlops monitor setup --stage production --cron "0 6 * * *"`.
    """
    from mlops_azure.lifecycle.monitor_setup import setup_monitor
    from mlops_azure.lifecycle.schedules import build_trigger

    config = STATE.config()
    ws = STATE.workspace(config)
    trigger = build_trigger(cron=cron, every=every, unit=unit, time_zone=time_zone)
    done = setup_monitor(ws, config, stage, trigger, window=window)
    if STATE.json:
        output.emit_json(done.to_dict())
        return
    if done.monitor is not None:
        found = done.monitor
        output.say(f"monitor [bold]{found.name}[/]: {output.plain(found.trigger.describe())}, "
                   f"{found.endpoint}/{found.deployment} against {found.reference_data} "
                   f"({len(found.numeric) + len(found.categorical)} features and the predictions)")
        return
    output.say("[yellow]note:[/] the local workspace has no monitoring service; run the drift "
               "check from cron (or an Azure DevOps schedule, see .azure-pipelines/monitoring.yml):")
    output.console.print(done.crontab or done.command, markup=False, highlight=False,
                         soft_wrap=True)
