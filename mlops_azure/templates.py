"""The project files shipped with mlops: the generic template ``mlops init --data`` copies and
the examples. Installed, they live in the package's ``_project`` folder (see pyproject's wheel
``force-include``); in a source checkout, at the repository's top level."""

from __future__ import annotations

import hashlib
import re
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
#: Folders of a new project merged file by file into what is there: ``--force`` replaces a file
#: of theirs only when mlops wrote it and nobody changed it since (see :func:`mark_written`).
MERGED = frozenset({".azure-pipelines", "tests"})
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*_cache")
_WRITTEN = re.compile(r"^# Written by mlops init \(sha256 ([0-9a-f]{12})\)")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def mark_written(text: str) -> str:
    """``text`` (a file with ``#`` comments) headed by a line saying mlops wrote it, with the
    hash that tells later whether anyone edited it."""
    # Under 88 characters: the user's own linters read the file.
    return (f"# Written by mlops init (sha256 {_digest(text)}): `init --force` replaces it until "
            "edited.\n" + text)


def unchanged_since_written(path: Path) -> bool:
    """True when ``path`` is a file :func:`mark_written` made that nobody changed since."""
    try:
        first, _, rest = path.read_text(encoding="utf-8").partition("\n")
    except (OSError, UnicodeDecodeError):
        return False
    written = _WRITTEN.match(first)
    return written is not None and written.group(1) == _digest(rest)


def project_target(target: Path, names: Iterable[str], *, force: bool) -> Path:
    """``target`` resolved; ``UserInputError`` when it is a file, or holds any of ``names``
    and ``force`` is not given."""
    root = target.resolve()
    if root.exists() and not root.is_dir():
        raise UserInputError(f"{root}: exists and is not a folder")
    for name in sorted(MERGED):
        # Merged file by file into a folder: anything else there is the user's to sort out.
        if (root / name).is_symlink() or ((root / name).exists() and not (root / name).is_dir()):
            raise UserInputError(f"{root / name}: is not a folder (mlops init writes its CI/CD "
                                 "files into one): move it away first")
    clashes = [n for n in names if (root / n).exists()]
    if clashes and not force:
        raise UserInputError(f"{root}: already holds {', '.join(clashes)} (pass --force to replace them)")
    return root


def copy_parts(source: Path, staging: Path, names: Iterable[str]) -> None:
    """Copy each of ``names`` (files or folders) from ``source`` into ``staging``."""
    for name in names:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, staging / name, ignore=_IGNORED)
        else:
            shutil.copy2(src, staging / name)


@contextmanager
def staged_project(root: Path, kept: list[str] | None = None) -> Iterator[Path]:
    """A temporary folder to build a project in; when the block ends without an error its
    entries replace ``root``'s, so a refused or interrupted init writes nothing.

    The folder is made inside ``root``: on its file system, so that putting the project in place
    is a rename even when ``root`` is a mount point. What it replaces is moved aside first and
    put back if anything fails. A ``.gitignore`` already there is kept; :data:`MERGED` folders
    are merged, and the files of theirs kept rather than replaced (edited, or not written by
    mlops) are added to ``kept``."""
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".mlops-init-", dir=root))
    aside = Path(tempfile.mkdtemp(prefix=".mlops-replaced-", dir=root))
    try:
        (staging / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
        try:
            yield staging
        except BaseException:
            if created:
                shutil.rmtree(root, ignore_errors=True)  # it holds only the two folders above
            raise
        _put_in_place(staging, root, aside, kept if kept is not None else [])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(aside, ignore_errors=True)


def _put_in_place(staging: Path, root: Path, aside: Path, kept: list[str]) -> None:
    moved: list[str] = []
    placed: list[str] = []
    try:
        for entry in sorted(staging.iterdir()):
            dest = root / entry.name
            if entry.name == ".gitignore" and dest.exists():
                continue  # the user's own wins
            if entry.name in MERGED and dest.is_dir():
                _merge(entry, dest, kept)
                continue
            if dest.exists() or dest.is_symlink():
                dest.replace(aside / entry.name)
                moved.append(entry.name)
            entry.replace(dest)
            placed.append(entry.name)
    except BaseException:
        # Put back what was there: the project is as it was before, not half replaced.
        for name in placed:
            dest = root / name
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest, ignore_errors=True)
            else:
                dest.unlink(missing_ok=True)
        for name in moved:
            (aside / name).replace(root / name)
        raise


def _merge(source: Path, dest: Path, kept: list[str]) -> None:
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        target = dest / path.relative_to(source)
        if target.exists() and not unchanged_since_written(target):
            kept.append(f"{dest.name}/{path.relative_to(source).as_posix()}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)
