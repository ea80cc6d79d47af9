"""``mlops jobs``, ``mlops models``, ``mlops status`` and ``mlops history``: reading the workspace."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE

jobs_app = typer.Typer(help="Pipeline jobs: list, show, logs.", no_args_is_help=True)
models_app = typer.Typer(help="Registered model versions and their lineage.", no_args_is_help=True)


@jobs_app.command("list")
def jobs_list(limit: Annotated[int, typer.Option(min=1, help="How many.")] = 20) -> None:
    """Jobs, newest first."""
    jobs = STATE.workspace().jobs.recent(limit)
    if STATE.json:
        output.emit_json([asdict(j) for j in jobs])
        return
    output.table("Jobs", ["job", "status", "created", "ended", "error"],
                 [(j.id, j.status.value, output.when(j.created_at), output.when(j.ended_at),
                   (j.error or "").splitlines()[0][:80] if j.error else "") for j in jobs],
                 optional=("ended",))


@jobs_app.command("show")
def jobs_show(job_id: Annotated[str, typer.Argument(help="Job id.")]) -> None:
    """One job: inputs, steps, outputs."""
    job = STATE.workspace().jobs.get(job_id)
    if STATE.json:
        output.emit_json(asdict(job))
        return
    output.fields(f"Job {job.id}", {
        "status": job.status.value, "experiment": job.experiment, "pipeline": job.pipeline,
        "created": output.when(job.created_at), "ended": output.when(job.ended_at),
        **{f"input {k}": v for k, v in job.inputs.items()},
        **{f"output {k}": v for k, v in job.outputs.items()},
        **{f"tag {k}": v for k, v in job.tags.items()},
    })
    output.table("Steps", ["step", "status", "exit code", "started", "ended"],
                 [(s.name, s.status.value, s.exit_code, output.when(s.started_at),
                   output.when(s.ended_at)) for s in job.steps],
                 optional=("started", "exit code"))
    if job.error:
        output.error(job.error)


@jobs_app.command("logs")
def jobs_logs(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    step: Annotated[str | None, typer.Option(help="Only this step.")] = None,
) -> None:
    """The captured output of a job's steps."""
    text = STATE.workspace().jobs.logs(job_id, step)
    if STATE.json:
        output.emit_json({"job_id": job_id, "step": step, "log": text})
    else:
        output.console.out(text, highlight=False)


def model_dict(model: Any) -> dict[str, Any]:
    out = asdict(model)
    out["ref"] = model.ref
    return out


@models_app.command("list")
def models_list(name: Annotated[str | None, typer.Argument(help="Only this model.")] = None) -> None:
    """Registered model versions, newest first."""
    models = STATE.project().models(name)
    if STATE.json:
        output.emit_json([model_dict(m) for m in models])
        return
    output.table("Models", ["model", "created", "metrics", "data", "job"],
                 [(m.ref, output.when(m.created_at),
                   ", ".join(f"{k}={v:.4g}" for k, v in m.metrics.items() if k != "rows"),
                   f"{m.lineage.data_asset}:{m.lineage.data_version}", m.lineage.job_id)
                  for m in models],
                 optional=("job", "data"))


@models_app.command("archive")
def models_archive(ref: Annotated[str, typer.Argument(help="NAME:VERSION")]) -> None:
    """Hide a version from listings and from "latest" (it stays readable and keeps serving)."""
    from mlops_azure.audit_events import resolve_actor
    from mlops_azure.lifecycle.refs import parse_ref

    name, version = parse_ref(ref, version_required=True)
    assert version is not None  # version_required
    STATE.workspace().models.archive(name, version, actor=resolve_actor())
    if STATE.json:
        output.emit_json({"archived": f"{name}:{version}"})
    else:
        output.say(f"archived {name}:{version}: no longer listed nor taken as the latest version")


@models_app.command("show")
def models_show(ref: Annotated[str, typer.Argument(help="NAME:VERSION")]) -> None:
    """One model version and its lineage: from the deployment back to the data."""
    project = STATE.project()
    model = project.model(ref)
    ws = project.workspace
    serving = [{"endpoint": e.name, "deployment": d.name, "traffic": e.traffic.get(d.name, 0),
                "state": d.state.value}
               for e in ws.endpoints.all() for d in ws.endpoints.list_deployments(e.name)
               if d.model_ref == model.ref]
    events = ws.events.recent(200, subject=model.ref)
    if STATE.json:
        output.emit_json(model_dict(model) | {"serving": serving,
                                              "history": [asdict(e) for e in events]})
        return
    lineage = model.lineage
    output.fields(f"Model {model.ref}", {
        "created": output.when(model.created_at),
        "created by": lineage.creator,
        "sha256": model.sha256,
        **{f"metric {k}": f"{v:.4g}" for k, v in model.metrics.items()},
        "training job": lineage.job_id,
        "pipeline": lineage.pipeline,
        "params": ", ".join(f"{k}={v}" for k, v in lineage.params.items()),
        "data asset": f"{lineage.data_asset}:{lineage.data_version}",
        "data sha256": lineage.data_sha256,
        "code commit": lineage.code_commit,
        "environment hash": lineage.environment_hash,
        **{k: v for k, v in lineage.extra.items()},
        **{f"tag {k}": v for k, v in model.tags.items()},
    })
    output.table("Serving now", ["endpoint", "deployment", "traffic", "state"],
                 [(s["endpoint"], s["deployment"], f"{s['traffic']}%", s["state"]) for s in serving])
    from mlops_azure.audit_events import summary_of

    output.table("Where it has been", ["time", "action", "stage", "outcome", "actor"],
                 [(output.when(e.time), e.action, *summary_of(e)[:2], e.actor)
                  for e in reversed(events)],
                 optional=("actor",))


def status() -> None:
    """Which model version serves where, with traffic and health, and the latest registered one."""
    project = STATE.project()
    found = project.status()
    if STATE.json:
        output.emit_json(found.to_dict())
        return
    output.table("Stages", ["stage", "deployment", "model", "traffic", "state"],
                 [(r.stage, r.deployment, r.model,
                   f"{r.traffic}%" + (f" (+{r.mirror}% mirror)" if r.mirror else ""), r.state)
                  for r in found.stages])
    for stage_name, stage in project.config.stages.items():
        uri = found.scoring_uri(stage_name)
        output.say(f"{stage_name}: endpoint {stage.endpoint}" + (f" at {uri}" if uri else " (not deployed)"))
    output.say(f"latest registered: {found.latest_registered or 'none'}")
    for stage_name, where in found.telemetry.items():
        output.say(f"{stage_name}: request logs, latency and failures in {where}")
    for endpoint, operation in found.operations.items():
        output.say(f"[bold yellow]{endpoint}[/]: {operation}")


def history(limit: Annotated[int, typer.Option(min=1, help="How many events.")] = 50) -> None:
    """The audit trail, newest first."""
    events = STATE.project().history(limit)
    if STATE.json:
        output.emit_json([asdict(e) for e in events])
        return
    from mlops_azure.audit_events import summary_of

    output.table("History", ["time", "actor", "action", "subject", "stage", "outcome", "details"],
                 [(output.when(e.time), e.actor, e.action, e.subject, *summary_of(e))
                  for e in events],
                 optional=("details", "actor"))
