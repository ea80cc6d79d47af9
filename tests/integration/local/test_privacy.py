"""A trained workspace with a live endpoint: nothing in it is readable by anyone but its owner."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig
from mlops_azure.lifecycle.release import deploy
from mlops_azure.lifecycle.scoring import ScoringClient


def test_jobs_models_keys_servers_and_collected_data_are_all_private(
    released_project: ProjectConfig,
) -> None:
    ws = open_workspace(released_project)
    deploy(ws, released_project, "steel-purchase-forecast:2", "staging")
    request = json.loads((released_project.root / "sample-request.json").read_text())
    with ScoringClient.for_endpoint(ws, "steel-staging") as client:
        assert client.score(request).status == 200

    root = released_project.workspace_dir
    walked, loose = 0, []
    for folder, _, files in os.walk(root):
        for path in (Path(folder), *(Path(folder) / name for name in files)):
            walked += 1
            if not path.is_symlink() and path.stat().st_mode & 0o077:
                loose.append(f"{path.relative_to(root)} {path.stat().st_mode & 0o777:o}")
    assert loose == []
    written = {p.relative_to(root).parts[0] for p in root.rglob("*")}
    assert {"artifacts", "jobs", "endpoints", "collected", "workspace.db"} <= written, written
    assert walked > 50  # the walk saw the trained models and the job folders, not an empty tree
