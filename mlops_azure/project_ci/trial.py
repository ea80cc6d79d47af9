"""A throwaway copy of a project on an embedded workspace of its own: what the tests ``mlops init``
writes (``tests/test_project.py``) train, deploy and gate in, so that they never touch the
project's own workspace, its registered models or its running endpoints."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_azure.project import Project

#: Never copied: version control, environments, caches.
SKIPPED = (".git", ".venv", "venv", "env", "node_modules", "__pycache__", ".pytest_cache",
           ".mypy_cache", ".ruff_cache", ".mlops")
#: The trial's workspace, inside the copy.
TRIAL_WORKSPACE = ".mlops"


@contextmanager
def trial_project(root: Path, into: Path) -> Iterator[Project]:
    """The project at ``root`` copied to ``into`` (which must not exist), on a fresh embedded
    workspace there; its local endpoints are stopped when the block ends.

    The project's own workspace folder (``local.workspace_dir``, wherever it is) is not copied, and
    a ``data.path`` outside the project keeps pointing at the same file.
    """
    from mlops_azure.config import load_config, set_settings
    from mlops_azure.project import CONFIG_FILE, Project

    config = load_config(root / CONFIG_FILE)
    own_workspace = config.workspace_dir.resolve()

    def skipped(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIPPED or Path(folder, n).resolve() == own_workspace}

    shutil.copytree(root, into, ignore=skipped)
    settings: dict[str, object] = {"local.workspace_dir": TRIAL_WORKSPACE}
    data = config.resolve(config.data.path).resolve()
    if not data.is_relative_to(root.resolve()):
        settings["data.path"] = str(data)
    set_settings(into / CONFIG_FILE, settings)
    project = Project.load(into, backend="local")
    try:
        yield project
    finally:
        # Only the trial's own workspace is open here: every endpoint in it is the trial's.
        for endpoint in project.workspace.endpoints.all():
            project.workspace.endpoints.delete(endpoint.name)
