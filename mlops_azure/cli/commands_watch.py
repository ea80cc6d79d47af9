"""``mlops watch data``: data-driven retraining from new blobs in a storage container."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE
from mlops_azure.errors import GateFailed, UserInputError

app = typer.Typer(help="Retrain when new data arrives.", no_args_is_help=True)


@app.command("data")
def data(
    container: Annotated[str, typer.Option(help="The blob container new data files land in.")],
    prefix: Annotated[str, typer.Option(help="Only blobs whose names start with this.")] = "",
    account_url: Annotated[str | None, typer.Option(
        help="https://ACCOUNT.blob.core.windows.net (signed in with DefaultAzureCredential); "
             "default: AZURE_STORAGE_CONNECTION_STRING.")] = None,
    asset: Annotated[str | None, typer.Option(
        help="Data asset to register each blob as (default: data.asset).")] = None,
    once: Annotated[bool, typer.Option(
        help="One pass, then exit (for a scheduled Azure DevOps pipeline).")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes without --once.")] = 60.0,
    wait_minutes: Annotated[float | None, typer.Option(
        help="Wait at most this long for each training job; exit 75 if it still runs (the next "
             "run attaches to it).")] = None,
) -> None:
    """Each new blob (by name and etag) → a new data asset version → one training run with the
    champion gate. The cursor lives in the workspace's audit trail: a restarted watcher resumes
    where the last one stopped, and no blob is processed twice. Exit 1 when a run failed."""
    from mlops_azure.azure.watched_container import ContainerSource
    from mlops_azure.cli.commands_train import print_progress
    from mlops_azure.lifecycle.watch import watch_once

    if interval <= 0:
        raise UserInputError(f"--interval must be positive (got {interval})")
    if wait_minutes is not None and wait_minutes <= 0:
        raise UserInputError(f"--wait-minutes must be positive (got {wait_minutes})")
    config = STATE.config()
    ws = STATE.workspace(config)
    source = ContainerSource(container, account_url=account_url)
    say = None if STATE.json else output.say
    progress = None if STATE.json else print_progress
    done = []
    try:
        while True:
            passed = watch_once(ws, config, source, prefix, asset=asset, progress=progress,
                                say=say, timeout_s=None if wait_minutes is None
                                else wait_minutes * 60)
            done += passed
            for result in passed if not STATE.json else []:
                output.say(f"{result.blob}: {result.phase}, job {result.job_id}, "
                           f"{result.verdict or result.error}; registered "
                           f"{result.registered or 'nothing'}")
            if once:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    if STATE.json:
        output.emit_json([r.to_dict() for r in done])
    elif not done:
        output.say(f"no new blobs in {source.where}" + (f" under '{prefix}'" if prefix else ""))
    failed = [r.blob for r in done if r.phase == "failed"]
    if failed:
        raise GateFailed(f"{len(failed)} of {len(done)} new blobs failed training: "
                         f"{', '.join(failed)}")
