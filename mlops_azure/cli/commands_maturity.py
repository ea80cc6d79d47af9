"""``mlops maturity``: the project on Microsoft's MLOps maturity model, from evidence."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE
from mlops_azure.errors import GateFailed

if TYPE_CHECKING:
    from mlops_azure.lifecycle.maturity import Maturity

_STATUS_STYLE = {"met": "green", "not met": "red", "unknown": "yellow"}


def _render(result: Maturity) -> None:
    from rich.table import Table

    from mlops_azure.lifecycle.maturity_criteria import LEVELS

    # Widths fixed for the short columns, the text columns share the rest and wrap, so the
    # table fits 80 columns.
    out = Table(title=f"MLOps maturity of {output.plain(result.project)}", title_justify="left")
    out.add_column("L", width=1, no_wrap=True)
    out.add_column("Criterion", ratio=3, overflow="fold")
    out.add_column("Status", width=7, no_wrap=True)
    out.add_column("Evidence, or what is missing", ratio=4, overflow="fold")
    for judged in result.judged:
        verdict = judged.verdict
        status = verdict.status.value
        said = ("; ".join(str(e) for e in verdict.evidence) if status == "met"
                else verdict.missing)
        out.add_row(str(judged.criterion.level), output.plain(judged.criterion.text),
                    f"[{_STATUS_STYLE[status]}]{status}[/]", output.plain(said))
    output.console.print(out)
    output.console.print(f"[bold]Level {result.level}[/]: {LEVELS[result.level]}")
    gaps = result.gaps()
    if gaps:
        output.console.print(f"Level {result.next_level} needs:")
        for judged in gaps:
            output.console.print(f"  - {output.plain(judged.criterion.id)}: "
                                 f"{output.plain(judged.verdict.missing)}"
                                 + (f" → {output.plain(judged.verdict.fix)}"
                                    if judged.verdict.fix else ""))


def maturity(
    html: Annotated[Path | None, typer.Option(
        help="Also write the report as a self-contained HTML page there.")] = None,
    junit: Annotated[Path | None, typer.Option(
        help="A JUnit XML test report to count (pytest --junitxml).")] = None,
    require_level: Annotated[int | None, typer.Option(
        "--require-level", min=0, max=4,
        help="Exit 1 when the project is below this level (for CI).")] = None,
) -> None:
    """Judge the project against Microsoft's MLOps maturity model (levels 0-4) from evidence:
    files, git, CI definitions, the workspace's models and audit trail, a JUnit report."""
    from mlops_azure._files import atomic_write
    from mlops_azure.lifecycle.maturity_html import render_html

    result = STATE.project().maturity(junit=junit)
    if html is not None:
        atomic_write(html, render_html(result).encode())
    if STATE.json:
        output.emit_json({**result.to_dict(), "html": None if html is None else str(html)})
    else:
        _render(result)
        if html is not None:
            output.say(f"HTML report: {html}")
    if require_level is not None and result.level < require_level:
        raise GateFailed(result.sentence(require_level))
