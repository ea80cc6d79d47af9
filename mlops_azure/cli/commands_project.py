"""``mlops init``, ``mlops run`` (the whole loop) and ``mlops config``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops_azure.cli import output
from mlops_azure.cli.commands_train import print_progress
from mlops_azure.cli.state import STATE

config_app = typer.Typer(help="Show or validate mlops.yaml.", no_args_is_help=True)


@config_app.command("validate")
def config_validate() -> None:
    """Check mlops.yaml; exit 2 with the key path of the first problem."""
    config = STATE.config()
    notes = config.notes(STATE.backend)
    if STATE.json:
        output.emit_json({"valid": True, "config": str(STATE.config_path),
                          "project": config.project, "notes": notes})
    else:
        output.say(f"{STATE.config_path}: valid ({config.project}, backend {config.backend})")
        for note in notes:
            output.say(f"[yellow]note:[/] {note}")


@config_app.command("show")
def config_show() -> None:
    """The config as mlops reads it, defaults and ${VAR} expansion applied."""
    config = STATE.config()
    document = config.model_dump(mode="json", by_alias=True)
    if STATE.json:
        output.emit_json(document)
    else:
        import yaml

        output.console.out(yaml.safe_dump(document, sort_keys=False), highlight=False)


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    data: Annotated[Path | None, typer.Option(
        help="Your CSV or Parquet file: the project is made for it.")] = None,
    target: Annotated[str | None, typer.Option(
        help="With --data: the column to predict.")] = None,
    task: Annotated[str | None, typer.Option(
        help="With --data: regression or classification (default: inferred from the target).")] = None,
    time_column: Annotated[str | None, typer.Option(
        help="With --data: split by this date column (latest rows held out) instead of at random.")] = None,
    id_columns: Annotated[str, typer.Option(
        help="With --data: identifier columns, comma-separated (never features, never monitored).")] = "",
    name: Annotated[str | None, typer.Option(
        help="With --data: the project's name (default: the folder's).")] = None,
    example: Annotated[str | None, typer.Option(
        help="Scaffold a shipped example instead (steel, the default without --data).")] = None,
    force: Annotated[bool, typer.Option(
        help="Replace an existing project's files (files of .azure-pipelines/ and tests/ that "
             "someone edited or wrote are kept).")] = False,
    organisations: Annotated[int, typer.Option(help="Steel example: organisations in the data.")] = 4,
    customers: Annotated[int, typer.Option(help="Steel example: customers per organisation.")] = 5,
) -> None:
    """Make a project: from your data (--data FILE --target COLUMN), or the steel example.

    Examples: `mlops init churn --data customers.csv --target churned`;
    `mlops init big --example steel --organisations 10 --customers 100` (1,000 customers).
    """
    from mlops_azure.errors import UserInputError

    if data is not None:
        if example is not None:
            raise UserInputError("--data and --example exclude each other: give one")
        if target is None:
            raise UserInputError("--data needs --target COLUMN: the column the model predicts")
        from mlops_azure.init_from_data import init_from_data

        made = init_from_data(directory, data, column=target, task=task, time_column=time_column,
                              id_columns=[c.strip() for c in id_columns.split(",") if c.strip()],
                              name=name, force=force)
        if STATE.json:
            output.emit_json(made.to_dict())
        else:
            output.say(f"created project in {made.root} from {made.source}: {made.rows} rows, "
                       f"{made.task} of '{made.target}' on {len(made.features)} features "
                       f"({made.split}); champion metric {made.metric}")
            for note in made.notes:
                output.say(f"[yellow]note:[/] {note}")
            _say_ci(made.root, made.kept)
            output.say(f"next: cd {directory} && mlops project check && mlops train")
        return
    given = [flag for flag, value in (("--target", target), ("--task", task),
                                      ("--time-column", time_column), ("--name", name)) if value]
    if given or id_columns:
        raise UserInputError(f"{(given or ['--id-columns'])[0]} goes with --data FILE")
    if example not in (None, "steel"):
        raise UserInputError(f"unknown example '{example}' (there is: steel)")
    from mlops_azure.example.scaffold import DATA_FILE, init_project

    result = init_project(directory, force=force, organisations=organisations,
                          customers=customers)
    if STATE.json:
        output.emit_json({"root": str(result.root), "files": result.files,
                          "data_rows": result.data_rows, "kept": result.kept})
    else:
        output.say(f"created project in {result.root}: {result.files} files, "
                   f"{result.data_rows} rows of data in {DATA_FILE}")
        _say_ci(result.root, result.kept)
        output.say(f"next: cd {directory} && mlops train")


def _say_ci(root: Path, kept: list[str]) -> None:
    from mlops_azure.project_ci import folder_in_repository, installed_requirement

    output.say("CI/CD: .azure-pipelines/ (ci, training, release, monitoring) and "
               "tests/test_project.py ('pytest tests'); 'mlops maturity' says what comes next")
    folder = folder_in_repository(root)
    output.say(f"      the pipelines install {installed_requirement()} (templates/setup.yml)"
               + (f" and find the project at {folder} in its git repository" if folder != "."
                  else ""))
    if kept:
        output.say(f"[yellow]kept[/] {len(kept)} file(s) already there instead of mlops's (edited "
                   f"since mlops init wrote them, or not its own): {', '.join(kept)}")


def run_loop(
    directory: Annotated[
        Path, typer.Argument(help="Folder for the demo project (created fresh).")
    ] = Path("mlops-demo"),
    force: Annotated[bool, typer.Option(help="Replace an existing demo project.")] = False,
    organisations: Annotated[int, typer.Option(help="Organisations in the generated data.")] = 4,
    customers: Annotated[int, typer.Option(
        help="Customers per organisation (x 6 materials: the many-models step's partitions).")
    ] = 5,
) -> None:
    """The whole loop on the embedded workspace: data → check → train → gate → release →
    drift → retrain → many models → batch forecast."""
    from mlops_azure.example.demo import run_demo

    summary = run_demo(directory, force=force, say=output.say, progress=print_progress,
                       organisations=organisations, customers=customers)
    if STATE.json:
        output.emit_json(summary)
