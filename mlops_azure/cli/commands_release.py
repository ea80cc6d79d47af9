"""``mlops deploy | approve | promote | rollback | invoke`` and ``mlops gate qa``: the release half."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE
from mlops_azure.errors import UserInputError

if TYPE_CHECKING:
    from mlops_azure.project import Project

gate_app = typer.Typer(help="Release gates: qa.", no_args_is_help=True)

RefArgument = Annotated[str, typer.Argument(help="The model version, NAME:VERSION (never 'latest').")]
StageOption = Annotated[str, typer.Option("--stage", "-s", help="The stage, as named in mlops.yaml.")]


def _render(outcome: Any) -> None:
    if STATE.json:
        output.emit_json(outcome.to_dict())
        return
    traffic = ", ".join(f"{name} {share}%" for name, share in sorted(outcome.traffic.items())
                        if share) or "none"
    output.say(f"[bold green]{outcome.model}[/] {outcome.action}: stage {outcome.stage}, endpoint "
               f"{outcome.endpoint} ({outcome.scoring_uri}); traffic {traffic}")
    if outcome.previous:
        output.say(f"previous deployment {outcome.previous} kept at 0 % for 'mlops rollback'")


def deploy(ref: RefArgument, stage: StageOption) -> None:
    """Deploy a version to a stage that needs no approval (e.g. staging), all traffic at once."""
    project = STATE.project()
    _notes(project, stage)
    _render(project.deploy(ref, stage, say=output.say))


def promote(ref: RefArgument, stage: StageOption) -> None:
    """Canary rollout to a stage (approval required where configured), with automatic rollback."""
    project = STATE.project()
    _notes(project, stage)
    _render(project.promote(ref, stage, say=output.say))


def rollback(stage: StageOption) -> None:
    """Send all traffic back to the deployment that served before (instant)."""
    _render(STATE.project().rollback(stage, say=output.say))


def approve(
    ref: RefArgument,
    stage: StageOption,
    reason: Annotated[str | None, typer.Option(help="Why this version may go to the stage.")] = None,
    by: Annotated[str | None, typer.Option(
        help="Who approves (default: the DevOps requester, git user or OS user).")] = None,
    devops_environment: Annotated[bool, typer.Option(
        "--devops-environment",
        help="Record the Azure DevOps Environment approval of this pipeline run, with its "
             "approver read back from Azure DevOps (needs SYSTEM_ACCESSTOKEN).")] = False,
) -> None:
    """Record an approval (who, when, why, evidence: the version's passing QA report)."""
    approval = STATE.project().approve(ref, stage, reason=reason, by=by,
                                       devops_environment=devops_environment)
    if STATE.json:
        output.emit_json(approval.to_dict())
        return
    output.say(f"[bold green]approved[/] {approval.model} for {approval.stage} by {approval.by}: "
               f"{approval.reason} (evidence: QA report event {approval.evidence.get('qa_event')}"
               + (f", DevOps run {approval.evidence['devops_run']['run_id']}"
                  if "devops_run" in approval.evidence else "") + ")")


def invoke(
    stage: StageOption,
    file: Annotated[Path, typer.Option("--file", "-f", help="The request body, a JSON file.")],
    deployment: Annotated[str | None, typer.Option(
        help="Score with this deployment only (default: by the traffic split).")] = None,
) -> None:
    """Call a stage's endpoint with a request file and print the answer."""
    try:
        body = file.read_bytes()
        json.loads(body)
    except OSError as exc:
        raise UserInputError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UserInputError(f"{file}: not valid JSON ({exc})") from None
    project = STATE.project()
    answer = project.invoke(stage, body, deployment=deployment)
    if not answer.ok:
        code = 2 if 400 <= answer.status < 500 else 3
        output.error(f"endpoint {project.config.stage(stage).endpoint} refused the request: "
                     f"{answer.message()}")
        raise typer.Exit(code)
    if STATE.json:
        output.emit_json({"deployment": answer.deployment, "milliseconds": round(answer.seconds * 1000, 3),
                          "response": answer.json()})
        return
    output.console.out(answer.body.decode("utf-8", errors="replace"), highlight=False)
    output.say(f"[dim]answered by deployment {answer.deployment} in "
               f"{answer.seconds * 1000:.1f} ms[/]")


@gate_app.command("qa")
def gate_qa(
    stage: StageOption,
    model: Annotated[str | None, typer.Option(
        help="Gate this version's deployment, NAME:VERSION (default: the one taking most traffic).")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write the JSON report here.")] = None,
    junit: Annotated[Path | None, typer.Option(
        help="Write JUnit XML here (Azure DevOps PublishTestResults).")] = None,
) -> None:
    """QA gate on a stage's endpoint: health, schema, parity, latency, error rate, bad requests."""
    from mlops_azure.errors import GateFailed

    result = STATE.project().gate_qa(stage, model=model, report=report, junit=junit,
                                     progress=output.say)
    if STATE.json:
        output.emit_json(result.to_dict())
    else:
        output.table(f"QA gate: {result.model} on {result.stage} ({result.deployment})",
                     ["check", "result", "detail"],
                     [(c.name, "pass" if c.passed else "FAIL", c.detail) for c in result.checks])
    if not result.passed:
        raise GateFailed(f"QA gate failed for {result.model} on {result.stage}: "
                         + "; ".join(f"{c.name} ({c.detail})" for c in result.failed))
    output.say(f"[bold green]QA gate passed[/] for {result.model}")


def _notes(project: Project, stage: str) -> None:
    for note in project.notes(stage):
        output.say(f"[yellow]note:[/] {note}")
