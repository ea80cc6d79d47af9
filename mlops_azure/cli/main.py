"""The ``mlops`` application: global options, the command groups, and the exit-code contract.

Exit codes: 0 ok, 1 a gate or check said no, 2 bad input or usage, 3 backend or infrastructure
failure. Errors are one sentence on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mlops_azure.cli import (
    commands_check,
    commands_data,
    commands_endpoints,
    commands_experiments,
    commands_explain,
    commands_infra,
    commands_maturity,
    commands_monitor,
    commands_project,
    commands_registry,
    commands_release,
    commands_schedule,
    commands_score,
    commands_train,
    commands_ui,
    commands_watch,
)
from mlops_azure.cli.output import error
from mlops_azure.cli.state import STATE
from mlops_azure.errors import MlopsError


class MlopsGroup(TyperGroup):
    """Maps mlops errors to one line on stderr and the contract's exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MlopsError as exc:
            if STATE.debug:
                traceback.print_exc()
            error(exc.message)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # The reader went away (`mlops ... | head`): stop quietly, like other CLI tools.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except Exception as exc:
            if type(exc).__module__.startswith("typer"):
                raise  # usage errors: typer prints them and exits 2
            if STATE.debug:
                traceback.print_exc()
            error(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)")
            raise typer.Exit(3) from None


app = typer.Typer(
    name="mlops",
    cls=MlopsGroup,
    help="From raw data to a production endpoint on Azure Machine Learning, with gates between "
    "every step.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _set_actor(ctx: typer.Context, actor: str) -> None:
    """The audit trail's one actor rule reads ``$MLOPS_ACTOR`` in every writer; restored when
    the command ends, so an in-process caller (tests, ``CliRunner``) keeps its environment."""
    from mlops_azure.audit_events import ACTOR_VARIABLE

    before = os.environ.get(ACTOR_VARIABLE)
    os.environ[ACTOR_VARIABLE] = actor

    def restore() -> None:
        if before is None:
            os.environ.pop(ACTOR_VARIABLE, None)
        else:
            os.environ[ACTOR_VARIABLE] = before

    ctx.call_on_close(restore)


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The project config file.")
    ] = Path("mlops.yaml"),
    backend: Annotated[
        str | None,
        typer.Option("--backend", help="local or azure (default: the config's backend)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Machine-readable output on stdout.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    wide: Annotated[bool, typer.Option(
        "--wide", help="Tables show every column (by default low-value ones are left out to fit "
        "the terminal, 80 columns when it is not one).")] = False,
    actor: Annotated[str | None, typer.Option(
        "--actor", help="Who acts, as recorded in the audit trail (default: $MLOPS_ACTOR, the "
        "CI requester, the git user, the OS user).")] = None,
) -> None:
    """Global options apply to every command."""
    if actor is not None:
        if not actor.strip():
            raise typer.BadParameter("must not be empty", param_hint="'--actor'")
        _set_actor(ctx, actor.strip())
    STATE.config_path = config
    STATE.backend = backend
    STATE.json = json_output
    STATE.debug = debug
    STATE.wide = wide
    if not debug:
        # azure.ai.ml reports experimental classes through logging; keep the CLI's output clean.
        logging.getLogger("azure").setLevel(logging.ERROR)


app.add_typer(commands_data.app, name="data")
app.add_typer(commands_registry.jobs_app, name="jobs")
app.add_typer(commands_experiments.app, name="experiments")
app.add_typer(commands_registry.models_app, name="models")
app.add_typer(commands_project.config_app, name="config")
app.add_typer(commands_check.app, name="project")
app.command("train")(commands_train.train)
app.command("explain")(commands_explain.explain)
commands_registry.models_app.command("card")(commands_explain.card)
app.command("init")(commands_project.init)
app.command("run")(commands_project.run_loop)
app.command("status")(commands_registry.status)
app.command("history")(commands_registry.history)
app.command("maturity")(commands_maturity.maturity)
app.command("deploy")(commands_release.deploy)
app.command("approve")(commands_release.approve)
app.command("promote")(commands_release.promote)
app.command("rollback")(commands_release.rollback)
app.command("invoke")(commands_release.invoke)
app.add_typer(commands_release.gate_app, name="gate")
app.add_typer(commands_endpoints.app, name="endpoints")
app.add_typer(commands_infra.app, name="infra")
app.add_typer(commands_monitor.app, name="monitor")
app.add_typer(commands_schedule.app, name="schedule")
app.add_typer(commands_watch.app, name="watch")
app.add_typer(commands_score.app, name="score")
app.command("ui")(commands_ui.ui)


def run() -> None:
    """Entry point of the ``mlops`` console script."""
    app(prog_name="mlops")
