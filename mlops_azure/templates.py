"""The project files shipped with mlops: the generic template ``mlops init --data`` copies and
the examples. Installed, they live in the package's ``_project`` folder (see pyproject's wheel
``force-include``); in a source checkout, at the repository's top level."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import mlops_azure
from mlops_azure.errors import UserInputError


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


#: Written into every new project (a user's own .gitignore is kept).
GITIGNORE = ".mlops/\nmodel.json\n__pycache__/\n"
#: What a new project gets only where the folder has none yet: ``--force`` replaces the project's
#: own files, never the user's ignore file, pipelines or tests.
KEEP_EXISTING = frozenset({".gitignore", ".azure-pipelines", "tests"})
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*_cache")


def project_target(target: Path, names: Iterable[str], *, force: bool) -> Path:
    """``target`` resolved; ``UserInputError`` when it is a file, or holds any of ``names``
    and ``force`` is not given."""
    root = target.resolve()
    if root.exists() and not root.is_dir():
        raise UserInputError(f"{root}: exists and is not a folder")
    clashes = [n for n in names if (root / n).exists()]
    if clashes and not force:
        raise UserInputError(f"{root}: already holds {', '.join(clashes)} (pass --force to replace them)")
    return root


def kept_parts(root: Path) -> list[str]:
    """The CI/CD folders a new project would get that ``root`` already has (and keeps)."""
    return sorted(n for n in KEEP_EXISTING - {".gitignore"} if (root / n).exists())


def copy_parts(source: Path, staging: Path, names: Iterable[str]) -> None:
    """Copy each of ``names`` (files or folders) from ``source`` into ``staging``."""
    for name in names:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, staging / name, ignore=_IGNORED)
        else:
            shutil.copy2(src, staging / name)


@contextmanager
def staged_project(root: Path) -> Iterator[Path]:
    """A temporary folder beside ``root`` to build a project in; when the block ends without an
    error its entries replace ``root``'s, so a refused or interrupted init writes nothing."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mlops-init-", dir=root.parent) as tmp:
        staging = Path(tmp)
        (staging / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
        yield staging
        root.mkdir(exist_ok=True)
        for entry in staging.iterdir():
            dest = root / entry.name
            if entry.name in KEEP_EXISTING and dest.exists():
                continue  # the user's own wins
            if dest.is_dir():
                shutil.rmtree(dest)
            elif dest.exists():
                dest.unlink()
            entry.replace(dest)
