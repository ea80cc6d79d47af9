"""``mlops data``: the data sanity gate and data asset versions."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE
from mlops_azure.errors import GateFailed

app = typer.Typer(help="Check data against the schema in mlops.yaml; version data assets.",
                  no_args_is_help=True)


@app.command("check")
def check(
    source: Annotated[str, typer.Argument(
        help="CSV file to check, or a data asset as azureml:NAME[:VERSION].")],
) -> None:
    """Check a data file or data asset against the schema in mlops.yaml (exit 1 when it fails)."""
    from mlops_azure.lifecycle.data import check_data, local_data

    config = STATE.config()
    ws = STATE.workspace(config) if source.startswith("azureml:") else None
    path, _ = local_data(ws, source)
    report = check_data(config, path)
    if STATE.json:
        output.emit_json(report.to_dict())
    else:
        verdict = "[green]passed[/]" if report.passed else "[red]FAILED[/]"
        output.say(f"data check {verdict}: {path} ({report.rows} rows, {report.columns} columns)")
        findings = [("error", f) for f in report.errors] + [("warning", f) for f in report.warnings]
        if findings:
            output.table(
                "Findings",
                ["severity", "check", "column", "count", "message"],
                [(sev, f["check"], f.get("column") or "", f.get("count", ""), f["message"])
                 for sev, f in findings],
            )
    if not report.passed:
        raise GateFailed(f"data check failed for {source}: {len(report.errors)} error(s)")


@app.command("upload")
def upload(
    path: Annotated[Path, typer.Argument(help="File or folder to upload.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Data asset name.")],
    description: Annotated[str, typer.Option(help="Free text.")] = "",
) -> None:
    """Store a file or folder as the next version of a data asset (with its content hash);
    training schedules the workspace pinned to an older version are re-created on it."""
    from mlops_azure.lifecycle.schedules import repin_schedules

    config = STATE.config()
    ws = STATE.workspace(config)
    asset = ws.data.upload(name, path, description=description)
    repinned = repin_schedules(ws, config, f"data {asset.ref} uploaded")
    if STATE.json:
        output.emit_json({**asdict(asset), "schedules_repinned": repinned})
    else:
        output.say(f"data asset [bold]{asset.ref}[/] sha256 {asset.sha256[:12]}… "
                   f"({asset.size_bytes} bytes)")
        for schedule in repinned:
            output.say(f"schedule {schedule} re-created on {asset.ref}")


@app.command("list")
def list_assets(
    name: Annotated[str | None, typer.Argument(help="Only this asset.")] = None,
) -> None:
    """Data asset versions, newest first."""
    assets = STATE.workspace().data.versions(name)
    if STATE.json:
        output.emit_json([asdict(a) for a in assets])
        return
    output.table("Data assets", ["asset", "sha256", "bytes", "created"],
                 [(a.ref, a.sha256[:12], a.size_bytes, output.when(a.created_at)) for a in assets],
                 optional=("sha256",))

