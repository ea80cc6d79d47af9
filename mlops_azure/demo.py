"""``mlops run``: the whole loop on the embedded workspace, as far as it exists today.

fresh project → data check → train (first model registered) → a challenger through the
champion gate → what is registered. Later stages (release, monitoring) join as they land.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops_azure.backends import open_workspace
from mlops_azure.config import load_config
from mlops_azure.errors import GateFailed
from mlops_azure.lifecycle.data import check_data
from mlops_azure.lifecycle.training import train, write_model_json
from mlops_azure.scaffold import init_project
from mlops_azure.workspace import ProgressCallback

#: A challenger that differs from mlops.yaml's parameters, so the gate has something to judge.
CHALLENGER_PARAMS = {"n_estimators": 600, "learning_rate": 0.03, "num_leaves": 15}


def run_demo(
    directory: Path,
    *,
    force: bool = False,
    say: Callable[[str], None] = print,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run the loop in a fresh project at ``directory``; returns a summary of what happened."""
    say(f"[bold]1/4[/] creating the example project in {directory}")
    created = init_project(directory, force=force)
    config = load_config(created.root / "mlops.yaml")
    if force and config.workspace_dir.exists():
        # The demo starts from nothing: a workspace left by an earlier demo run would make the
        # "first model" a challenger.
        shutil.rmtree(config.workspace_dir)
    ws = open_workspace(config, "local")

    say(f"[bold]2/4[/] checking {config.data.path} against the schema in mlops.yaml")
    report = check_data(config, config.resolve(config.data.path))
    say(f"      {report.rows} rows: {len(report.errors)} errors, {len(report.warnings)} warnings "
        "(handled by the prep step)")
    if not report.passed:
        raise GateFailed("the generated data failed the data check")

    summary: dict[str, Any] = {"project": str(created.root), "trainings": []}
    for number, (label, params) in enumerate(
        [("first model", {}), ("challenger", CHALLENGER_PARAMS)], start=3
    ):
        say(f"[bold]{number}/4[/] training the {label}"
            + (f" with {params}" if params else ""))
        outcome = train(ws, config, params=params, progress=progress)
        say(f"      champion gate: {outcome.decision.reason}")
        if outcome.model is not None:
            write_model_json(created.root / "model.json", outcome.model)
            say(f"      registered [bold green]{outcome.model.ref}[/]")
        summary["trainings"].append(outcome.to_dict())

    latest = ws.get_model(config.model.name)
    summary["latest_registered"] = latest.ref
    say(f"done: {latest.ref} is the latest registered model; "
        f"see 'cd {directory} && mlops models show {latest.ref}' for its lineage")
    return summary
