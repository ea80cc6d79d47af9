"""The project files shipped with mlops: the generic template ``mlops init --data`` copies and
the examples. Installed, they live in the package's ``_project`` folder (see pyproject's wheel
``force-include``); in a source checkout, at the repository's top level."""

from __future__ import annotations

from pathlib import Path

import mlops_azure


def shipped(relative: str, names: tuple[str, ...]) -> Path:
    """``relative`` in the installed package's ``_project`` folder, or in the source checkout."""
    package = Path(mlops_azure.__file__).resolve().parent
    for candidate in (package / "_project" / relative, package.parent / relative.removeprefix("template")):
        if all((candidate / name).exists() for name in names):
            return candidate
    raise FileNotFoundError(f"{relative} is missing from {package}: reinstall mlops-azure")


def generic_template_root() -> Path:
    """The generic tabular project template (components, pipelines, environments)."""
    return shipped("template", ("components", "pipelines", "environments"))
