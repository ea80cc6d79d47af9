"""``mlops project check``: the project against the contract, without running it."""

from __future__ import annotations

from pathlib import Path

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
    from dataclasses import replace

    from mlops_azure.lifecycle.project_check import Finding, check_project

    found = check_project(STATE.config_path)
    problems, files = ci_problems(STATE.config_path.resolve().parent)
    found = replace(found, checked=(*found.checked, *files),
                    findings=(*found.findings, *(Finding("error", "pipelines", p) for p in problems)))
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


def ci_problems(root: Path) -> tuple[list[str], list[str]]:
    """The problems of the CI/CD definitions of the project at ``root`` (those beside it and at
    the top of its git repository), and the files read, as shown."""
    from mlops_azure.cli.invocations import check_ci_file
    from mlops_azure.lifecycle.maturity_facts import CI_GLOBS
    from mlops_azure.project_ci import folder_in_repository

    inside = Path(folder_in_repository(root))
    top = root if inside == Path(".") else Path(*root.parts[:len(root.parts) - len(inside.parts)])
    problems: list[str] = []
    files: list[str] = []
    seen: set[Path] = set()
    for folder in dict.fromkeys((root, top)):
        for pattern in CI_GLOBS:
            for path in sorted(folder.glob(pattern)):
                if path.is_file() and path.resolve() not in seen:
                    seen.add(path.resolve())
                    shown = (path.relative_to(root) if path.is_relative_to(root)
                             else path.relative_to(top)).as_posix()
                    files.append(shown)
                    problems += check_ci_file(path, shown)
    return problems, files
