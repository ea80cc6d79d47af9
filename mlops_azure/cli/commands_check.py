"""``mlops project check``: the project against the contract, without running it."""

from __future__ import annotations

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE
from mlops_azure.errors import UserInputError

app = typer.Typer(help="Check a project against the tool's contract (docs/project-contract.md).",
                  no_args_is_help=True)


@app.command("check")
def check() -> None:
    """Check mlops.yaml, the training pipeline, its components, the scoring scripts and the
    mlops lines of the CI/CD pipelines without running anything (exit 2 when anything is wrong)."""
    from mlops_azure.cli.invocations import with_ci_findings
    from mlops_azure.lifecycle.project_check import check_project

    found = with_ci_findings(check_project(STATE.config_path), STATE.config_path.resolve().parent)
    if STATE.json:
        output.emit_json(found.to_dict())
    else:
        for finding in found.findings:
            colour = "red" if finding.severity == "error" else "yellow"
            # One finding, one line: a sentence cut by the terminal's width reads as two.
            output.console.print(f"[{colour}]{finding.severity}[/] {output.plain(finding.message)}",
                                 soft_wrap=True)
    if not found.ok:
        raise UserInputError(f"project check: {len(found.errors)} error(s) in the project of "
                             f"{STATE.config_path}")
    warnings = len(found.findings)
    output.say(f"project OK: {len(found.checked)} files checked against contract "
               f"{found.to_dict()['contract_version']}"
               + (f", {warnings} warning(s)" if warnings else ""))

