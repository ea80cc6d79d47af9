"""``mlops infra ensure``: the compute and environments the pipelines and deployments need."""

from __future__ import annotations

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE

app = typer.Typer(help="Compute and environments on the backend.", no_args_is_help=True)


@app.command("ensure")
def ensure() -> None:
    """Create the training cluster and register environments/ where missing (idempotent)."""
    ws = STATE.workspace()
    lines = (ws.infrastructure.ensure() if ws.infrastructure is not None else
             [f"{ws.backend} workspace: steps and deployments run in this Python environment, "
              "nothing to create"])
    if STATE.json:
        output.emit_json({"backend": ws.backend, "resources": lines})
        return
    for line in lines:
        output.say(line)
