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
    from mlops_azure.config import ProjectConfig
    from mlops_azure.project import Project

#: Never copied, wherever they are: version control, packages and caches (a virtualenv is known
#: by its pyvenv.cfg, whatever its name; the project's workspace by its path).
SKIPPED = (".git", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
#: The trial's workspace, inside the copy.
TRIAL_WORKSPACE = ".mlops"


def _outside_paths(config: ProjectConfig, root: Path) -> dict[str, object]:
    """The settings whose files are outside the project, as absolute paths: the copy still
    finds them."""
    named: dict[str, Path] = {"data.path": config.data.path,
                              "data.check_component": config.data.check_component,
                              "training.pipeline": config.training.pipeline}
    for name, stage in config.stages.items():
        named[f"stages.{name}.code"] = stage.code
        named[f"stages.{name}.environment"] = stage.environment
    found: dict[str, object] = {}
    for key, path in named.items():
        resolved = config.resolve(path).resolve()
        if not resolved.is_relative_to(root.resolve()):
            found[key] = str(resolved)
    return found


@contextmanager
def trial_project(root: Path, into: Path) -> Iterator[Project]:
    """The project at ``root`` copied to ``into`` (which must not exist), on a fresh embedded
    workspace there; its local endpoints are stopped when the block ends.

    The project's own workspace folder (``local.workspace_dir``, wherever it is) is not copied, and
    the data, pipeline, components and environments it names outside the project are still found.
    """
    from mlops_azure.config import load_config, set_settings
    from mlops_azure.project import CONFIG_FILE, Project

    config = load_config(root / CONFIG_FILE)
    own_workspace = config.workspace_dir.resolve()

    def skipped(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIPPED or (Path(folder, n) / "pyvenv.cfg").is_file()
                or Path(folder, n).resolve() == own_workspace}

    shutil.copytree(root, into, ignore=skipped, symlinks=True)
    set_settings(into / CONFIG_FILE, {"local.workspace_dir": TRIAL_WORKSPACE,
                                      **_outside_paths(config, root)})
    project = Project.load(into, backend="local")
    try:
        yield project
    finally:
        # Only the trial's own workspace is open here: every endpoint in it is the trial's.
        for endpoint in project.workspace.endpoints.all():
            project.workspace.endpoints.delete(endpoint.name)
