"""``mlops ui``: the web app over this project."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE
from mlops_azure.errors import UserInputError


def ui(
    host: Annotated[str, typer.Option(
        help="Address to listen on. The default is reachable from this machine only; behind "
             "Azure App Service or Container Apps use 0.0.0.0 with --easy-auth.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8080,
    stage: Annotated[str | None, typer.Option(
        help="The stage predictions go to by default (default: production, else the last "
             "stage).")] = None,
    refresh: Annotated[float, typer.Option(
        min=0, help="Seconds between the status page's refreshes (0: never).")] = 5.0,
    easy_auth: Annotated[bool, typer.Option(
        "--easy-auth", help="Take the signed-in user from the Easy Auth headers of Azure App "
        "Service / Container Apps, record them as the actor, and refuse requests without one "
        "(default: on when $WEBSITE_AUTH_ENABLED is true).")] = False,
) -> None:
    """Status, models, predictions, drift and the audit trail in the browser.

    Example: `mlops ui` then open http://127.0.0.1:8080/.
    """
    from mlops_azure.webapp import UiSettings, serve
    from mlops_azure.webapp._server import check_port, is_loopback

    config = STATE.config()  # a bad mlops.yaml is said here, before the server starts
    if stage is not None:
        config.stage(stage)
    easy_auth = easy_auth or os.environ.get("WEBSITE_AUTH_ENABLED", "").lower() == "true"
    if not is_loopback(host) and not easy_auth:
        raise UserInputError(f"--host {host} would let anyone who reaches this machine use the "
                             "app as you: keep 127.0.0.1, or serve behind Easy Auth with "
                             "--easy-auth")
    check_port(host, port)
    scratch = Path(tempfile.mkdtemp(prefix="mlops-ui-"))
    settings = UiSettings(config_path=STATE.config_path.resolve(), backend=STATE.backend,
                          secret_key=os.urandom(32), scratch_dir=scratch, refresh_s=refresh,
                          easy_auth=easy_auth, stage=stage)
    try:
        serve(settings, host, port, ready=lambda url: output.say(
            f"mlops ui: {config.project} at [bold]{url}[/] (Ctrl+C stops it)"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
