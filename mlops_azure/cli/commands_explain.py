"""``mlops explain`` (top contributors per row), ``mlops explain what-if`` (how a prediction
moves when features change) and ``mlops models card``."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE
from mlops_azure.errors import UserInputError

if TYPE_CHECKING:
    from mlops_azure.lifecycle.explain import RowExplanation


def _row_label(row: dict[str, object], index: int, id_columns: list[str]) -> str:
    """The row's identifiers (``data.id_columns``, else ``batch.keys``), else its number."""
    keys = [str(row[k]) for k in id_columns if k in row]
    return " / ".join(keys) if keys else f"row {index + 1}"


def _render(explained: RowExplanation, title: str, top: int) -> None:
    # A classifier's contributions add up in log-odds, not in the probability it serves: say so,
    # and show the sum they add up to, so no number is read in the wrong space.
    space = explained.space
    odds = space.startswith("log-odds of ")
    output.fields(title, {
        (f"probability of {space.removeprefix('log-odds of ')}" if odds else "prediction"):
            f"{explained.prediction:.4g}",
        **({"log-odds (base value + contributions)": f"{explained.raw_prediction:.4g}"} if odds else {}),
        f"base value{f' ({space})' if space else ''}": f"{explained.base_value:.4g}",
        **{f"  {name}": f"{value:+.4g}" for name, value in explained.top(top)},
    })


def explain(
    target: Annotated[list[str], typer.Argument(
        metavar="[what-if] NAME:VERSION",
        help="The model version; 'what-if NAME:VERSION' asks how a prediction moves.")],
    rows: Annotated[Path | None, typer.Option(
        help="CSV or JSON rows to explain (default: the first rows of the model's parity sample).")
    ] = None,
    row: Annotated[Path | None, typer.Option(help="what-if: the row (JSON object or CSV).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="what-if: FEATURE=VALUE, repeatable.")] = None,
    top: Annotated[int, typer.Option(min=1, help="Contributors shown per row.")] = 5,
    stage: Annotated[str | None, typer.Option(
        help="Use this stage's scoring script (default: the first stage's).")] = None,
) -> None:
    """Why the model predicts what it does: each feature's contribution (tree SHAP)."""
    from mlops_azure.lifecycle import explain as explaining

    project = STATE.project()
    if target[0] == "what-if":
        if len(target) != 2 or row is None:
            raise UserInputError("usage: mlops explain what-if NAME:VERSION --row FILE "
                                 "--set FEATURE=VALUE [--set ...]")
        given = explaining.read_rows(row)
        if len(given) != 1:
            raise UserInputError(f"{row} holds {len(given)} rows: what-if takes exactly one")
        changes = explaining.parse_assignments(set_ or [], given[0])
        before, after = project.what_if(target[1], given[0], changes, stage=stage)
        if STATE.json:
            output.emit_json({"changes": changes, "before": before.to_dict(),
                              "after": after.to_dict()})
            return
        _render(before, "As it is", top)
        _render(after, "With " + ", ".join(f"{k}={v}" for k, v in changes.items()), top)
        output.say(f"prediction moves by [bold]{after.prediction - before.prediction:+.4g}[/] "
                   f"({before.prediction:.4g} → {after.prediction:.4g})")
        return
    if len(target) != 1:
        raise UserInputError("usage: mlops explain NAME:VERSION [--rows FILE]")
    found = project.explain(target[0], rows, stage=stage)
    if STATE.json:
        output.emit_json([e.to_dict() for e in found])
        return
    id_columns = project.config.data.id_columns or project.config.batch.keys
    for index, explained in enumerate(found):
        _render(explained, _row_label(explained.row, index, id_columns), top)


def card(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION")],
    open_: Annotated[bool, typer.Option("--open", help="Open the HTML card in a browser.")] = False,
    html: Annotated[Path | None, typer.Option(
        help="Where to write the HTML card (default: .mlops/cards/NAME-VERSION.html).")] = None,
) -> None:
    """The model card: intended use, lineage, metrics, gates, fairness, explanations."""
    from mlops_azure._files import atomic_write
    from mlops_azure.responsible import render_html, render_markdown

    project = STATE.project()
    built = project.model_card(ref)
    target = html or project.config.workspace_dir / "cards" / f"{built.name}-{built.version}.html"
    atomic_write(target, render_html(built).encode())
    if STATE.json:
        output.emit_json({"model": f"{built.name}:{built.version}", "html": str(target),
                          "markdown": render_markdown(built)})
    else:
        output.console.out(render_markdown(built), highlight=False)
        output.say(f"HTML card: {target}")
    if open_:
        webbrowser.open(target.resolve().as_uri())
